import type { ComparisonChange, SourceOutcome } from '@purple/contracts';

/** One execution of a run, as the comparison needs it. */
export interface RunExecution {
  techniqueId: string | null;
  techniqueName: string | null;
  /** Caldera's ability, when known; executions match by it, else by technique, else by command */
  abilityId: string | null;
  command: string;
  host: string;
  verdict: string;
  latencyMs: number | null;
  sources: Array<{ source: string; outcome: SourceOutcome | null }>;
}

export interface ComparisonOptions {
  /** latency counts as worse when it grew by more than this */
  latencyThresholdMs: number;
}

type RunState = 'detected' | 'missed' | 'undecided';

export interface ComparedItem {
  technique_id: string | null;
  technique_name: string | null;
  ability_id: string | null;
  host: string;
  change: ComparisonChange;
  a: RunState | null;
  b: RunState | null;
  latency_a_ms: number | null;
  latency_b_ms: number | null;
  latency_worse: boolean;
  sources: Array<{ source: string; a: SourceOutcome | null; b: SourceOutcome | null; change: ComparisonChange }>;
  /** newly missed, a source newly missing it, or latency worse by more than the threshold */
  regression: boolean;
}

export interface Comparison {
  latency_threshold_ms: number;
  summary: {
    newly_missed: number;
    newly_detected: number;
    still_missed: number;
    still_detected: number;
    latency_worse: number;
    source_regressions: number;
    only_in_a: number;
    only_in_b: number;
    regressions: number;
  };
  items: ComparedItem[];
}

const keyOf = (e: RunExecution) => `${e.abilityId ?? e.techniqueId ?? `command:${e.command}`}\u0000${e.host}`;

const VERDICT_STATE: Record<string, RunState> = { detected: 'detected', not_detected: 'missed' };

/** A run's state for one match key: detected when any of its executions was, missed when all were decided missed. */
function stateOf(executions: RunExecution[]): RunState {
  const states = executions.map((e) => VERDICT_STATE[e.verdict] ?? 'undecided');
  if (states.includes('detected')) return 'detected';
  return states.every((s) => s === 'missed') ? 'missed' : 'undecided';
}

function sourceStateOf(executions: RunExecution[], source: string): SourceOutcome | null {
  const outcomes = executions.flatMap((e) => e.sources.filter((s) => s.source === source).map((s) => s.outcome));
  if (outcomes.length === 0) return null;
  if (outcomes.includes('detected')) return 'detected';
  if (outcomes.every((o) => o === 'not_detected')) return 'not_detected';
  return outcomes.find((o) => o === 'error' || o === 'unsupported') ?? null;
}

export function changeOf(a: RunState | SourceOutcome | null, b: RunState | SourceOutcome | null): ComparisonChange {
  const seen = (s: unknown) => s === 'detected';
  const missed = (s: unknown) => s === 'missed' || s === 'not_detected';
  if (a === null && b !== null) return 'only_in_b';
  if (b === null && a !== null) return 'only_in_a';
  if (seen(a) && missed(b)) return 'newly_missed';
  if (missed(a) && seen(b)) return 'newly_detected';
  if (missed(a) && missed(b)) return 'still_missed';
  if (seen(a) && seen(b)) return 'still_detected';
  return 'undecided';
}

const minLatency = (executions: RunExecution[]) => {
  const values = executions.filter((e) => e.verdict === 'detected' && e.latencyMs !== null).map((e) => e.latencyMs as number);
  return values.length > 0 ? Math.min(...values) : null;
};

/**
 * Run `a` (the baseline, e.g. last week's) against run `b`: executions matched by ability (else technique, else
 * command) and host; for each match, what changed overall and per source, and whether it is a regression (newly
 * missed, newly missed by a source, or slower by more than the threshold).
 */
export function compareRuns(a: RunExecution[], b: RunExecution[], options: ComparisonOptions): Comparison {
  const group = (run: RunExecution[]) => {
    const map = new Map<string, RunExecution[]>();
    for (const e of run) map.set(keyOf(e), [...(map.get(keyOf(e)) ?? []), e]);
    return map;
  };
  const inA = group(a);
  const inB = group(b);
  const keys = [...new Set([...inA.keys(), ...inB.keys()])];
  const items = keys.map((key): ComparedItem => {
    const ea = inA.get(key) ?? [];
    const eb = inB.get(key) ?? [];
    const sample = ea[0] ?? eb[0];
    const stateA = ea.length > 0 ? stateOf(ea) : null;
    const stateB = eb.length > 0 ? stateOf(eb) : null;
    const latencyA = minLatency(ea);
    const latencyB = minLatency(eb);
    const latencyWorse = latencyA !== null && latencyB !== null && latencyB - latencyA > options.latencyThresholdMs;
    const sourceNames = [...new Set([...ea, ...eb].flatMap((e) => e.sources.map((s) => s.source)))].sort();
    const sources = sourceNames.map((source) => {
      const sa = ea.length > 0 ? sourceStateOf(ea, source) : null;
      const sb = eb.length > 0 ? sourceStateOf(eb, source) : null;
      return { source, a: sa, b: sb, change: changeOf(sa, sb) };
    });
    const change = changeOf(stateA, stateB);
    return {
      technique_id: sample.techniqueId,
      technique_name: sample.techniqueName,
      ability_id: sample.abilityId,
      host: sample.host,
      change,
      a: stateA,
      b: stateB,
      latency_a_ms: latencyA,
      latency_b_ms: latencyB,
      latency_worse: latencyWorse,
      sources,
      regression: change === 'newly_missed' || latencyWorse || sources.some((s) => s.change === 'newly_missed'),
    };
  });
  items.sort((x, y) => (x.technique_id ?? '\uffff').localeCompare(y.technique_id ?? '\uffff') || x.host.localeCompare(y.host));
  const count = (change: ComparisonChange) => items.filter((i) => i.change === change).length;
  return {
    latency_threshold_ms: options.latencyThresholdMs,
    summary: {
      newly_missed: count('newly_missed'),
      newly_detected: count('newly_detected'),
      still_missed: count('still_missed'),
      still_detected: count('still_detected'),
      latency_worse: items.filter((i) => i.latency_worse).length,
      source_regressions: items.reduce((n, i) => n + i.sources.filter((s) => s.change === 'newly_missed').length, 0),
      only_in_a: count('only_in_a'),
      only_in_b: count('only_in_b'),
      regressions: items.filter((i) => i.regression).length,
    },
    items,
  };
}

/** The comparison as CSV rows (one per match and source; the overall row has source `*`). */
export function comparisonCsvRows(comparison: Comparison): string[][] {
  const header = ['technique_id', 'technique_name', 'host', 'source', 'change', 'a', 'b', 'latency_a_ms', 'latency_b_ms', 'latency_worse', 'regression'];
  const rows = comparison.items.flatMap((i) => [
    [i.technique_id ?? '', i.technique_name ?? '', i.host, '*', i.change, i.a ?? '', i.b ?? '', String(i.latency_a_ms ?? ''), String(i.latency_b_ms ?? ''), String(i.latency_worse), String(i.regression)],
    ...i.sources.map((s) => [i.technique_id ?? '', i.technique_name ?? '', i.host, s.source, s.change, s.a ?? '', s.b ?? '', '', '', '', String(s.change === 'newly_missed')]),
  ]);
  return [header, ...rows];
}
