import { decideVerdict } from '../verdict/decide-verdict';
import { changeOf, compareRuns, RunExecution } from './compare-runs';
import { isLateDetection, ingestionDelayMs, recheckDelaySeconds } from './late-detection';
import { abilityInitialDelay, chooseInitialDelay, percentile } from './learned-delay';
import { markerFor } from './marker';
import { bestQuality, gradeMatch } from './match-quality';
import { sourceMatrix, sourceVerdicts, SourceTaskResult } from './source-outcomes';

describe('markerFor', () => {
  it("keeps Caldera's link id when it is plain, else generates a short one", () => {
    expect(markerFor('5f0c2a6e-1b2c-4d3e-9f00-aa11bb22cc33')).toBe('5f0c2a6e-1b2c-4d3e-9f00-aa11bb22cc33');
    expect(markerFor(null, () => Buffer.from('abcdef'))).toBe('pm-616263646566');
    expect(markerFor('has space " quote', () => Buffer.alloc(6, 1))).toBe('pm-010101010101');
    expect(markerFor('abc', () => Buffer.alloc(6, 2))).toBe('pm-020202020202');
  });
});

describe('gradeMatch', () => {
  it('grades exact, scoped and heuristic, and nothing for a miss', () => {
    expect(gradeMatch(true, { markerFound: true, hostScoped: false })).toBe('exact');
    expect(gradeMatch(true, { markerFound: false, hostScoped: true })).toBe('scoped');
    expect(gradeMatch(true, { markerFound: false, hostScoped: false })).toBe('heuristic');
    expect(gradeMatch(true, undefined)).toBe('heuristic');
    expect(gradeMatch(false, { markerFound: true, hostScoped: true })).toBeNull();
    expect(bestQuality(['heuristic', null, 'scoped'])).toBe('scoped');
    expect(bestQuality([null])).toBeNull();
  });
});

describe('late detections and re-checks', () => {
  it('is late only for a detection after a decided miss or error', () => {
    expect(isLateDetection('detected', 'not_detected')).toBe(true);
    expect(isLateDetection('detected', 'error')).toBe(true);
    expect(isLateDetection('detected', 'checking')).toBe(false);
    expect(isLateDetection('not_detected', 'not_detected')).toBe(false);
  });

  it('never turns a detection back, and a re-check never reopens a decided verdict', () => {
    const executedAt = new Date('2024-01-15T10:30:00Z');
    const resultAt = new Date('2024-01-15T10:35:00Z');
    const tasks = [
      { id: 'a', status: 'completed' as const, attempts: 1 },
      { id: 'r', status: 'pending' as const, attempts: 0, isRecheck: true },
    ];
    const missed = [{ taskId: 'a', attempt: 1, status: 'not_detected' as const, matchedEventAt: null, resultAt }];
    expect(decideVerdict({ executedAt, tasks, results: missed }).verdict).toBe('not_detected');
    const recheckSaw = [...missed, { taskId: 'r', attempt: 1, status: 'detected' as const, matchedEventAt: null, resultAt }];
    expect(decideVerdict({ executedAt, tasks, results: recheckSaw })).toEqual({ verdict: 'detected', latencyMs: 300_000 });
    const thenError = [...recheckSaw, { taskId: 'a', attempt: 2, status: 'error' as const, matchedEventAt: null, resultAt }];
    expect(decideVerdict({ executedAt, tasks, results: thenError }).verdict).toBe('detected');
  });

  it('schedules a re-check from the task, else the default, never twice', () => {
    expect(recheckDelaySeconds('not_detected', { isRecheck: false, config: {} }, 0)).toBeNull();
    expect(recheckDelaySeconds('not_detected', { isRecheck: false, config: {} }, 60)).toBe(60);
    expect(recheckDelaySeconds('not_detected', { isRecheck: false, config: { recheck_after_seconds: 0 } }, 60)).toBeNull();
    expect(recheckDelaySeconds('not_detected', { isRecheck: false, config: { recheck_after_seconds: 5 } }, 0)).toBe(5);
    expect(recheckDelaySeconds('not_detected', { isRecheck: true, config: { recheck_after_seconds: 5 } }, 60)).toBeNull();
    expect(recheckDelaySeconds('detected', { isRecheck: false, config: {} }, 60)).toBeNull();
    expect(recheckDelaySeconds('error', { isRecheck: false, config: {} }, 60)).toBeNull();
  });

  it('measures the ingestion delay of a detection with an event time', () => {
    const at = new Date('2024-01-15T10:31:00Z');
    const ran = new Date('2024-01-15T10:30:00Z');
    expect(ingestionDelayMs('detected', new Date('2024-01-15T10:30:15Z'), at, ran)).toBe(45_000);
    expect(ingestionDelayMs('detected', new Date('2024-01-15T10:32:00Z'), at, ran)).toBe(0);
    expect(ingestionDelayMs('detected', null, at, ran)).toBeNull();
    expect(ingestionDelayMs('not_detected', new Date(0), at, ran)).toBeNull();
  });

  it('takes no sample from a detection found long after its execution ran (old results replayed, a late re-check)', () => {
    const ran = new Date('2024-01-15T10:30:00Z');
    const event = new Date('2024-01-15T10:30:07Z');
    expect(ingestionDelayMs('detected', event, new Date('2024-01-15T11:30:00Z'), ran)).toBe(3_593_000);
    expect(ingestionDelayMs('detected', event, new Date('2024-01-15T11:30:01Z'), ran)).toBeNull();
    expect(ingestionDelayMs('detected', event, new Date('2026-12-07T23:00:00Z'), ran)).toBeNull();
  });
});

describe('learned initial delays', () => {
  const bounds = { enabled: true, minSeconds: 5, maxSeconds: 120 };
  it("takes the ability's delay, else the learned p90 within bounds, else the default", () => {
    expect(chooseInitialDelay({ abilitySeconds: 0, learnedP90Ms: 40_000, defaultSeconds: 30, bounds })).toEqual({ seconds: 0, source: 'ability' });
    expect(chooseInitialDelay({ abilitySeconds: undefined, learnedP90Ms: 40_100, defaultSeconds: 30, bounds })).toEqual({ seconds: 41, source: 'learned' });
    expect(chooseInitialDelay({ abilitySeconds: undefined, learnedP90Ms: 900_000, defaultSeconds: 30, bounds })).toEqual({ seconds: 120, source: 'learned' });
    expect(chooseInitialDelay({ abilitySeconds: undefined, learnedP90Ms: 100, defaultSeconds: 30, bounds })).toEqual({ seconds: 5, source: 'learned' });
    expect(chooseInitialDelay({ abilitySeconds: undefined, learnedP90Ms: undefined, defaultSeconds: 30, bounds })).toEqual({ seconds: 30, source: 'default' });
    expect(chooseInitialDelay({ abilitySeconds: undefined, learnedP90Ms: 40_000, defaultSeconds: 30, bounds: { ...bounds, enabled: false } })).toEqual({
      seconds: 30,
      source: 'default',
    });
    expect(abilityInitialDelay({ initial_delay_seconds: 12 })).toBe(12);
    expect(abilityInitialDelay({ initial_delay_seconds: '12' })).toBeUndefined();
  });

  it('computes percentiles as percentile_cont', () => {
    expect(percentile([10, 20, 30, 40, 50, 60, 70, 80, 90, 100], 0.9)).toBeCloseTo(91);
    expect(percentile([5], 0.5)).toBe(5);
    expect(percentile([], 0.5)).toBeUndefined();
  });
});

const row = (executionId: string, source: string, status: SourceTaskResult['status'], extra: Partial<SourceTaskResult> = {}): SourceTaskResult => ({
  executionId,
  source,
  taskStatus: status === null ? 'dispatched' : status === 'error' || status === 'unsupported' ? 'failed' : 'completed',
  isRecheck: false,
  attempt: 1,
  status,
  action: null,
  quality: status === 'detected' ? 'scoped' : null,
  latencyMs: status === 'detected' ? 1000 : null,
  late: false,
  evidence: [],
  ...extra,
});

describe('per-source outcomes and the matrix', () => {
  it("gives each source its outcome, with blocked or alerted when the source says", () => {
    const verdicts = sourceVerdicts([
      row('e', 'crowdstrike', 'detected', { action: 'blocked', quality: 'exact' }),
      row('e', 'splunk', 'not_detected'),
      row('e', 'splunk', 'detected', { isRecheck: true, late: true }),
      row('e', 'sentinel', 'error'),
      row('e', 'edr', 'unsupported'),
      row('e', 'elastic', null),
      row('e', 'bad', null, { taskStatus: 'rejected' }),
    ]);
    expect(verdicts.map((v) => [v.source, v.outcome, v.action, v.recheck_only, v.late])).toEqual([
      ['crowdstrike', 'detected', 'blocked', false, false],
      ['edr', 'unsupported', null, false, false],
      ['elastic', null, null, false, false],
      ['sentinel', 'error', null, false, false],
      ['splunk', 'detected', null, true, true],
    ]);
  });

  it('names the techniques where sources disagree', () => {
    const matrix = sourceMatrix([
      { executionId: '1', techniqueId: 'T1059', techniqueName: 'Command', sources: sourceVerdicts([row('1', 'splunk', 'detected'), row('1', 'crowdstrike', 'not_detected')]) },
      { executionId: '2', techniqueId: 'T1033', techniqueName: 'Owner', sources: sourceVerdicts([row('2', 'splunk', 'detected'), row('2', 'crowdstrike', 'detected', { action: 'alerted' })]) },
      { executionId: '3', techniqueId: 'T1033', techniqueName: 'Owner', sources: sourceVerdicts([row('3', 'splunk', 'error'), row('3', 'crowdstrike', 'not_detected')]) },
    ]);
    expect(matrix.map((t) => [t.technique_id, t.disagreement, t.seen_by, t.missed_by])).toEqual([
      ['T1033', false, [], []],
      ['T1059', true, ['splunk'], ['crowdstrike']],
    ]);
    expect(matrix[0].sources).toEqual([
      { source: 'crowdstrike', detected: 1, blocked: 0, alerted: 1, not_detected: 1, error: 0, unsupported: 0, pending: 0, latency_p50_ms: 1000 },
      { source: 'splunk', detected: 1, blocked: 0, alerted: 0, not_detected: 0, error: 1, unsupported: 0, pending: 0, latency_p50_ms: 1000 },
    ]);
  });
});

describe('compareRuns', () => {
  const run = (techniqueId: string, verdict: string, latencyMs: number | null, sources: RunExecution['sources'] = []): RunExecution => ({
    techniqueId,
    techniqueName: null,
    abilityId: null,
    command: 'whoami',
    host: 'web-01',
    verdict,
    latencyMs,
    sources,
  });

  it('lists newly missed, newly detected, still missed, slower and per-source changes, and counts regressions', () => {
    const a = [
      run('T1', 'detected', 1000),
      run('T2', 'not_detected', null),
      run('T3', 'not_detected', null),
      run('T4', 'detected', 1000),
      run('T5', 'detected', 1000, [{ source: 'splunk', outcome: 'detected' }, { source: 'crowdstrike', outcome: 'detected' }]),
      run('T6', 'detected', 1000),
    ];
    const b = [
      run('T1', 'not_detected', null),
      run('T2', 'detected', 2000),
      run('T3', 'not_detected', null),
      run('T4', 'detected', 200_000),
      run('T5', 'detected', 1000, [{ source: 'splunk', outcome: 'detected' }, { source: 'crowdstrike', outcome: 'not_detected' }]),
      run('T7', 'detected', 1000),
    ];
    const comparison = compareRuns(a, b, { latencyThresholdMs: 60_000 });
    expect(comparison.items.map((i) => [i.technique_id, i.change, i.latency_worse, i.regression])).toEqual([
      ['T1', 'newly_missed', false, true],
      ['T2', 'newly_detected', false, false],
      ['T3', 'still_missed', false, false],
      ['T4', 'still_detected', true, true],
      ['T5', 'still_detected', false, true],
      ['T6', 'only_in_a', false, false],
      ['T7', 'only_in_b', false, false],
    ]);
    expect(comparison.items[4].sources).toEqual([
      { source: 'crowdstrike', a: 'detected', b: 'not_detected', change: 'newly_missed' },
      { source: 'splunk', a: 'detected', b: 'detected', change: 'still_detected' },
    ]);
    expect(comparison.summary).toEqual({
      newly_missed: 1,
      newly_detected: 1,
      still_missed: 1,
      still_detected: 2,
      latency_worse: 1,
      source_regressions: 1,
      only_in_a: 1,
      only_in_b: 1,
      regressions: 3,
    });
    expect(compareRuns(a, a, { latencyThresholdMs: 0 }).summary.regressions).toBe(0);
    expect(changeOf('detected', 'pending' as never)).toBe('undecided');
  });
});
