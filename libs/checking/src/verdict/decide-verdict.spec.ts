import { VerdictResult, VerdictTask, decideVerdict } from './decide-verdict';

const executedAt = new Date('2024-01-15T10:30:00Z');
const at = (iso: string) => new Date(iso);

const task = (id: string, status: VerdictTask['status'], attempts = 1): VerdictTask => ({ id, status, attempts });
const result = (taskId: string, status: VerdictResult['status'], extra: Partial<VerdictResult> = {}): VerdictResult => ({
  taskId,
  attempt: 1,
  status,
  matchedEventAt: null,
  resultAt: at('2024-01-15T10:31:15Z'),
  ...extra,
});

describe('decideVerdict', () => {
  it('gives no_detections to an execution without tasks', () => {
    expect(decideVerdict({ executedAt, tasks: [], results: [] })).toEqual({ verdict: 'no_detections', latencyMs: null });
  });

  it('gives no_usable_detections to an execution whose every entry was rejected, distinct from error', () => {
    const tasks = [task('a', 'rejected', 0), task('b', 'rejected', 0)];
    expect(decideVerdict({ executedAt, tasks, results: [] })).toEqual({ verdict: 'no_usable_detections', latencyMs: null });
  });

  it('rolls up over the tasks that could run, ignoring rejected ones', () => {
    const tasks = [task('a', 'completed'), task('r', 'rejected', 0)];
    expect(decideVerdict({ executedAt, tasks, results: [result('a', 'not_detected')] }).verdict).toBe('not_detected');
    expect(decideVerdict({ executedAt, tasks: [task('a', 'pending', 0), task('r', 'rejected', 0)], results: [] }).verdict).toBe('pending');
  });

  it('stays pending while no task has been dispatched', () => {
    const tasks = [task('a', 'pending', 0), task('b', 'pending', 0)];
    expect(decideVerdict({ executedAt, tasks, results: [] }).verdict).toBe('pending');
  });

  it('is checking once a task is dispatched, answered, or pending again for a retry', () => {
    expect(decideVerdict({ executedAt, tasks: [task('a', 'dispatched'), task('b', 'pending', 0)], results: [] }).verdict).toBe('checking');
    expect(
      decideVerdict({ executedAt, tasks: [task('a', 'completed'), task('b', 'pending', 0)], results: [result('a', 'not_detected')] })
        .verdict,
    ).toBe('checking');
    expect(decideVerdict({ executedAt, tasks: [task('a', 'pending', 1)], results: [] }).verdict).toBe('checking');
  });

  it('is detected as soon as one result is, even with tasks still open, with the latency of the earliest evidence', () => {
    const decision = decideVerdict({
      executedAt,
      tasks: [task('a', 'completed'), task('b', 'completed'), task('c', 'dispatched')],
      results: [
        // event times win over result times
        result('a', 'detected', { matchedEventAt: at('2024-01-15T10:30:42Z'), resultAt: at('2024-01-15T10:35:00Z') }),
        result('b', 'detected', { resultAt: at('2024-01-15T10:31:00Z') }),
      ],
    });
    expect(decision).toEqual({ verdict: 'detected', latencyMs: 42_000 });
  });

  it('falls back to the result time when a detection has no event time', () => {
    const decision = decideVerdict({ executedAt, tasks: [task('a', 'completed')], results: [result('a', 'detected')] });
    expect(decision).toEqual({ verdict: 'detected', latencyMs: 75_000 });
  });

  it('never reports a negative latency for an event stamped before the execution', () => {
    const decision = decideVerdict({
      executedAt,
      tasks: [task('a', 'completed')],
      results: [result('a', 'detected', { matchedEventAt: at('2024-01-15T10:29:58Z') })],
    });
    expect(decision).toEqual({ verdict: 'detected', latencyMs: 0 });
  });

  it('is not_detected when every task completed with not_detected', () => {
    const decision = decideVerdict({
      executedAt,
      tasks: [task('a', 'completed'), task('b', 'completed')],
      results: [result('a', 'not_detected'), result('b', 'not_detected')],
    });
    expect(decision).toEqual({ verdict: 'not_detected', latencyMs: null });
  });

  it('is error when every task is final but one failed, was unsupported or timed out', () => {
    const answered = [task('a', 'completed')];
    const ok = [result('a', 'not_detected')];
    expect(decideVerdict({ executedAt, tasks: [...answered, task('b', 'failed')], results: [...ok, result('b', 'error')] }).verdict).toBe(
      'error',
    );
    expect(
      decideVerdict({ executedAt, tasks: [...answered, task('b', 'failed')], results: [...ok, result('b', 'unsupported')] }).verdict,
    ).toBe('error');
    expect(decideVerdict({ executedAt, tasks: [...answered, task('b', 'timed_out', 3)], results: ok }).verdict).toBe('error');
  });

  it('judges a task by its latest attempt', () => {
    const tasks = [task('a', 'completed', 2)];
    const errorThenAnswer = [result('a', 'error', { attempt: 1 }), result('a', 'not_detected', { attempt: 2 })];
    expect(decideVerdict({ executedAt, tasks, results: errorThenAnswer }).verdict).toBe('not_detected');
    const answerThenError = [result('a', 'not_detected', { attempt: 1 }), result('a', 'error', { attempt: 2 })];
    expect(decideVerdict({ executedAt, tasks, results: answerThenError }).verdict).toBe('error');
  });

  it('waits for open tasks before deciding not_detected or error', () => {
    const decision = decideVerdict({
      executedAt,
      tasks: [task('a', 'failed'), task('b', 'dispatched')],
      results: [result('a', 'error')],
    });
    expect(decision.verdict).toBe('checking');
  });
});
