import { ConnectorError } from '../connectors/connector';
import { judgeCommandResult, MAX_JUDGED_LINE_LENGTH, outputRuleOf } from './output-rule';

function refusal(config: Record<string, unknown>): ConnectorError {
  try {
    outputRuleOf(config);
  } catch (error) {
    expect(error).toBeInstanceOf(ConnectorError);
    expect((error as ConnectorError).retryable).toBe(false);
    return error as ConnectorError;
  }
  throw new Error('outputRuleOf accepted a malformed rule');
}

describe('outputRuleOf', () => {
  it('is "exit code 0" without a match (or with a null one)', () => {
    expect(outputRuleOf(undefined)).toEqual({ exitCodes: [0] });
    expect(outputRuleOf(null)).toEqual({ exitCodes: [0] });
    expect(outputRuleOf({ window_after_seconds: 10 })).toEqual({ exitCodes: [0] });
    expect(outputRuleOf({ match: null })).toEqual({ exitCodes: [0] });
  });

  it('reads an exit code, a list of them, a pattern with flags and a text', () => {
    expect(outputRuleOf({ match: { exit_code: 1 } })).toEqual({ exitCodes: [1] });
    expect(outputRuleOf({ match: { exit_code: [0, 2] } })).toEqual({ exitCodes: [0, 2] });
    const rule = outputRuleOf({ match: { output_matches: '^failed password for (\\w+)', output_flags: 'i', output_contains: 'sshd' } });
    expect(rule.exitCodes).toBeUndefined();
    expect(rule.outputPattern).toEqual(/^failed password for (\w+)/i);
    expect(rule.outputContains).toBe('sshd');
  });

  it('refuses a malformed rule with a final error naming the key', () => {
    expect(refusal({ match: 'exit 0' }).message).toBe('detection_config.match must be an object');
    expect(refusal({ match: [0] }).message).toBe('detection_config.match must be an object');
    expect(refusal({ match: {} }).message).toBe('detection_config.match names no condition (exit_code, output_matches or output_contains)');
    expect(refusal({ match: { exit_code: '0' } }).message).toBe('detection_config.match.exit_code must be an integer or a list of integers');
    expect(refusal({ match: { exit_code: [] } }).message).toBe('detection_config.match.exit_code must be an integer or a list of integers');
    expect(refusal({ match: { exit_code: [0, 1.5] } }).message).toBe('detection_config.match.exit_code must be an integer or a list of integers');
    expect(refusal({ match: { output_matches: '' } }).message).toBe('detection_config.match.output_matches must be a regular expression of 1 to 500 characters');
    expect(refusal({ match: { output_matches: 'a'.repeat(501) } }).message).toMatch(/^detection_config\.match\.output_matches must be/);
    expect(refusal({ match: { output_matches: '(unclosed' } }).message).toMatch(/^detection_config\.match\.output_matches is not a valid regular expression: /);
    // `g` and `y` would make the pattern remember where it stopped between lines
    expect(refusal({ match: { output_matches: 'x', output_flags: 'g' } }).message).toBe('detection_config.match.output_flags may hold only i, m, s and u');
    expect(refusal({ match: { output_matches: 'x', output_flags: 'ii' } }).message).toMatch(/is not a valid regular expression/);
    expect(refusal({ match: { output_contains: '' } }).message).toBe('detection_config.match.output_contains must be a non-empty string');
    expect(refusal({ match: { output_contains: 3 } }).message).toBe('detection_config.match.output_contains must be a non-empty string');
  });
});

describe('judgeCommandResult', () => {
  it('judges each line on its first MAX_JUDGED_LINE_LENGTH characters, so a pattern never runs over a huge line', async () => {
    const rule = outputRuleOf({ match: { output_matches: 'MARK$' } });
    const padding = 'x'.repeat(MAX_JUDGED_LINE_LENGTH - 4);
    expect((await judgeCommandResult({ exitCode: 0, output: `${padding}MARK` }, rule)).eventsFound).toBe(1);
    // the same marker just past the bound is not seen
    expect((await judgeCommandResult({ exitCode: 0, output: `${padding}xMARK` }, rule)).eventsFound).toBe(0);
    // the whole output is still kept as the raw answer
    expect((await judgeCommandResult({ exitCode: 0, output: `${padding}xMARK` }, rule)).rawOutput).toContain('xMARK');
  });

  it('detects by exit code, counting the output lines as events and keeping the output as raw output', async () => {
    const outcome = (await judgeCommandResult({ exitCode: 0, output: 'line one\n\nline two\n' }, { exitCodes: [0] }));
    expect(outcome).toEqual({
      eventsFound: 2,
      events: [{ id: 'line one' }, { id: 'line two' }],
      rawOutput: 'exit code 0\nline one\n\nline two\n',
    });
  });

  it('keeps one event for a matching exit code without output, and the event time when given', async () => {
    const at = new Date('2025-01-10T12:00:00Z');
    expect((await judgeCommandResult({ exitCode: 0, output: '' }, { exitCodes: [0] }, at))).toMatchObject({
      eventsFound: 1,
      events: [{ id: '(exit code matched)', eventTime: at }],
    });
  });

  it('misses on another exit code, and on a killed command (no exit code)', async () => {
    expect((await judgeCommandResult({ exitCode: 1, output: 'x\n' }, { exitCodes: [0] }))).toEqual({ eventsFound: 0, events: [], rawOutput: 'exit code 1\nx\n' });
    expect((await judgeCommandResult({ exitCode: 2, output: '' }, { exitCodes: [0, 2] })).eventsFound).toBe(1);
    expect((await judgeCommandResult({ exitCode: null, output: 'x' }, { exitCodes: [0] }))).toEqual({
      eventsFound: 0,
      events: [],
      rawOutput: 'exit code none (killed)\nx',
    });
  });

  it('detects by output lines: only matching lines are events, whatever the exit code when none is required', async () => {
    const output = 'Jan 10 sshd[1]: Accepted key for bob\r\nJan 10 sshd[2]: FAILED password for root\nJan 10 cron[3]: failed password\n';
    const outcome = (await judgeCommandResult({ exitCode: 3, output }, { outputPattern: /failed password for/i }));
    expect(outcome.eventsFound).toBe(1);
    expect(outcome.events).toEqual([{ id: 'Jan 10 sshd[2]: FAILED password for root' }]);

    const both = (await judgeCommandResult({ exitCode: 0, output }, { outputPattern: /password/i, outputContains: 'cron' }));
    expect(both.events).toEqual([{ id: 'Jan 10 cron[3]: failed password' }]);
  });

  it('needs every condition: matching lines with the wrong exit code, or the right code without a matching line, miss', async () => {
    const rule = { exitCodes: [0], outputContains: 'marker-7' };
    expect((await judgeCommandResult({ exitCode: 1, output: 'marker-7\n' }, rule)).eventsFound).toBe(0);
    expect((await judgeCommandResult({ exitCode: 0, output: 'marker-8\n' }, rule)).eventsFound).toBe(0);
    expect((await judgeCommandResult({ exitCode: 0, output: 'a marker-7 b\n' }, rule)).eventsFound).toBe(1);
  });

  it('gives the same answer for every line: a pattern keeps no state between lines', async () => {
    const rule = outputRuleOf({ match: { output_matches: 'hit' } });
    expect((await judgeCommandResult({ exitCode: 0, output: 'hit\nhit\nhit\n' }, rule)).eventsFound).toBe(3);
  });

  it('keeps the first 20 matching lines, each cut to 200 characters, but counts them all', async () => {
    const output = Array.from({ length: 25 }, (_, i) => `${i}:${'x'.repeat(300)}`).join('\n');
    const outcome = (await judgeCommandResult({ exitCode: 0, output }, { outputContains: 'x' }));
    expect(outcome.eventsFound).toBe(25);
    expect(outcome.events).toHaveLength(20);
    expect(outcome.events[0].id).toBe(`0:${'x'.repeat(198)}`);
    expect(outcome.events[19].id?.startsWith('19:')).toBe(true);
  });
});

describe('judgeCommandResult with a backtracking pattern (ReDoS)', () => {
  it('stops a catastrophic pattern at its deadline with an error saying why, while the event loop keeps running', async () => {
    const rule = outputRuleOf({ match: { output_matches: '^(\\w+\\s?)+$' } });
    // 26 characters already took 0.67 s on the event loop; 40 would take hours
    const output = `${'a'.repeat(40)}!\n`;
    let ticks = 0;
    const ticker = setInterval(() => (ticks += 1), 10);
    const startedAt = Date.now();
    try {
      const failure = await judgeCommandResult({ exitCode: 0, output }, rule, undefined, 500).then(
        () => undefined,
        (error: unknown) => error as ConnectorError,
      );
      expect(failure).toBeInstanceOf(ConnectorError);
      expect(failure?.retryable).toBe(false);
      expect(failure?.message).toMatch(/^detection_config\.match\.output_matches did not finish within 500 ms .*backtracks/);
    } finally {
      clearInterval(ticker);
    }
    const elapsed = Date.now() - startedAt;
    expect(elapsed).toBeLessThan(5000);
    // the timer kept firing while the pattern ran: the event loop was never held (a blocked loop fires it ~once)
    expect(ticks).toBeGreaterThanOrEqual(10);
  });

  it('still answers at once for a well-behaved pattern on the same output', async () => {
    const rule = outputRuleOf({ match: { output_matches: '^a+!$' } });
    expect((await judgeCommandResult({ exitCode: 0, output: `${'a'.repeat(40)}!\n` }, rule, undefined, 500)).eventsFound).toBe(1);
  });
});
