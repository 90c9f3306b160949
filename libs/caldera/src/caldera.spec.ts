import { abilityOf, CalderaFormatError, calderaTimeOf, decodeCalderaText, detectionsOf, hasReported, isFinishedLink, LINK_STATES, linkOf, linkOutputOf, readLink } from './index';

const b64 = (text: string) => Buffer.from(text).toString('base64');

describe("reading Caldera's answers", () => {
  it('decodes base64 commands (Caldera 4) and keeps plain ones (Caldera 5 decodes them itself)', () => {
    expect(decodeCalderaText(b64('whoami /all'))).toBe('whoami /all');
    expect(decodeCalderaText(b64('Get-Process | Where-Object { $_.CPU -gt 100 }'))).toBe('Get-Process | Where-Object { $_.CPU -gt 100 }');
    for (const plain of ['whoami', 'date', 'hostname', 'ipconfig', 'tasklist', 'ls -la /tmp', 'cat /etc/passwd', 'id']) {
      expect(decodeCalderaText(plain)).toBe(plain);
    }
  });

  it("reads Caldera's time stamps as ISO-8601 UTC", () => {
    expect(calderaTimeOf('2024-01-15T10:30:00Z')).toBe('2024-01-15T10:30:00.000Z');
    expect(calderaTimeOf('2024-01-15 10:30:00')).toBe('2024-01-15T10:30:00.000Z');
    expect(calderaTimeOf('2024-01-15T10:30:00.123456+02:00')).toBe('2024-01-15T08:30:00.123Z');
    expect(calderaTimeOf('')).toBeUndefined();
    expect(calderaTimeOf('yesterday')).toBeUndefined();
    expect(calderaTimeOf(undefined)).toBeUndefined();
  });

  it('reads a link result: JSON with stdout/stderr/exit_code, raw output, or nothing', () => {
    expect(linkOutputOf(b64(JSON.stringify({ stdout: 'administrator\n', stderr: '', exit_code: '0' })))).toEqual({
      stdout: 'administrator\n',
      stderr: '',
      exit_code: 0,
    });
    expect(linkOutputOf(b64(JSON.stringify({ stdout: 'x', stderr: 'y', exit_code: '' })))).toEqual({ stdout: 'x', stderr: 'y' });
    expect(linkOutputOf(b64('total 0\ndrwx------ 2 root root'))).toEqual({ stdout: 'total 0\ndrwx------ 2 root root', stderr: '' });
    // a command's own JSON on an old server is output, not Caldera's envelope
    expect(linkOutputOf(b64('{"stdout": "mine"}'))).toEqual({ stdout: '{"stdout": "mine"}', stderr: '' });
    expect(linkOutputOf('')).toBeUndefined();
    expect(() => linkOutputOf('%%% not base64 %%%')).toThrow(new CalderaFormatError('the link result is not base64'));
  });

  it('reads a link, or says what makes it none', () => {
    expect(readLink('x')).toEqual({ problem: 'is not a link object' });
    expect(readLink({ status: 0 })).toEqual({ problem: 'has no link id' });
    expect(readLink({ id: 'l', status: 'done' })).toEqual({ problem: 'has no integer status' });
    expect(linkOf({ paw: 'p' })).toBeUndefined();
    expect(linkOf({ id: 'l', status: '0', paw: 'p', command: 'x', pid: '42', host: 'h', ability: { technique_id: 'T1033' } })).toMatchObject({
      id: 'l',
      status: 0,
      pid: 42,
      host: 'h',
      ability: { techniqueId: 'T1033', additionalInfo: {} },
    });
    expect(LINK_STATES[124]).toBe('TIMEOUT');
  });

  it('counts a link as finished when it ran and reported (finish set; success, error or timeout)', () => {
    const link = (status: number, finish: string) => {
      const read = linkOf({ id: 'l', paw: 'p', command: 'x', status, finish, ability: {} });
      if (!read) throw new Error('the link was not read');
      return read;
    };
    expect(isFinishedLink(link(0, '2024-01-15T10:30:00Z'))).toBe(true);
    expect(isFinishedLink(link(1, '2024-01-15T10:30:00Z'))).toBe(true);
    expect(isFinishedLink(link(124, '2024-01-15T10:30:00Z'))).toBe(true);
    expect(isFinishedLink(link(-3, ''))).toBe(false);
    expect(isFinishedLink(link(-2, ''))).toBe(false);
    expect(isFinishedLink(link(0, ''))).toBe(false);
    // the executor waits on its own link: a final status alone is enough
    expect(hasReported(link(0, ''))).toBe(true);
    expect(hasReported(link(-3, ''))).toBe(false);
    expect(hasReported(link(-3, '2024-01-15T10:30:00Z'))).toBe(true);
  });

  it("reads detections from additional_info as JSON text, Python's text of a list, or a list", () => {
    const detections = [{ detection_type: 'api', detection_platform: 'siem', detection_config: { query: 'q', connector: 'splunk' } }];
    expect(detectionsOf(abilityOf({ additional_info: { detections: JSON.stringify(detections) } }))).toEqual(detections);
    expect(
      detectionsOf(abilityOf({ additional_info: { detections: "[{'detection_type': 'api', 'detection_platform': 'siem', 'detection_config': {'query': 'q', 'connector': 'splunk'}}]" } })),
    ).toEqual(detections);
    expect(detectionsOf(abilityOf({ additional_info: { detections } }))).toEqual(detections);
    expect(detectionsOf(abilityOf({ additional_info: {} }))).toBeUndefined();
    expect(detectionsOf(abilityOf({}))).toBeUndefined();
    expect(detectionsOf(abilityOf({ additional_info: { detections: 'splunk please' } }))).toBe('splunk please');
  });
});
