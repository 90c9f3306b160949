import { boundedOutputOf, MAX_OUTPUT_BYTES } from './link-output';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe('boundedOutputOf', () => {
  it('cuts a huge output so that the message stays far below the consumer limit', () => {
    const output = boundedOutputOf(b64(JSON.stringify({ stdout: 'x'.repeat(3 * MAX_OUTPUT_BYTES), stderr: 'e', exit_code: 0 })));
    expect(Buffer.byteLength(output?.stdout ?? '')).toBeLessThan(MAX_OUTPUT_BYTES + 100);
    expect(output?.stdout).toMatch(/\[truncated by caldera-bridge\]$/);
    expect(output).toMatchObject({ stderr: 'e', exit_code: 0 });
  });

  it('passes on a result that is not base64 as the text Caldera gave, and nothing for no output', () => {
    expect(boundedOutputOf('%%% not base64 %%%')).toEqual({ stdout: '%%% not base64 %%%', stderr: '' });
    expect(boundedOutputOf('')).toBeUndefined();
  });
});
