import type { DetectionAction, MatchQuality, ResponseStatus, SourceOutcome } from '@purple/contracts';
import { bestQuality } from './match-quality';

/**
 * One task with its latest answer (status null before one), plus, for a task that detected on an earlier attempt,
 * a row per detecting answer: any detection counts.
 */
export interface SourceTaskResult {
  executionId: string;
  /** the connector that ran it: splunk, crowdstrike, sentinel, caldera, local … */
  source: string;
  taskStatus: string;
  isRecheck: boolean;
  attempt: number | null;
  status: ResponseStatus | null;
  action: DetectionAction | null;
  quality: MatchQuality | null;
  /** for a detection: the matched event's time (else the result's) minus the execution's */
  latencyMs: number | null;
  late: boolean;
  evidence: unknown[];
}

export interface SourceVerdict {
  source: string;
  /** null while the source has not answered for good */
  outcome: SourceOutcome | null;
  /** for detected: blocked when any match says so, else alerted when any says so, else null */
  action: DetectionAction | null;
  quality: MatchQuality | null;
  latency_ms: number | null;
  late: boolean;
  /** detected only by a re-check */
  recheck_only: boolean;
  evidence: unknown[];
}

/**
 * Each source's outcome for one execution, over its tasks (a source may have several): `detected` when any answer
 * did (re-checks included); otherwise from the latest answers of its tasks that are not re-checks: `error` when one
 * failed or timed out, `unsupported` when no worker had the connector, `not_detected` when every one answered so;
 * null while one is still open. Rejected entries never ran and are not a source's outcome.
 */
export function sourceVerdicts(results: SourceTaskResult[]): SourceVerdict[] {
  const bySource = new Map<string, SourceTaskResult[]>();
  for (const r of results) {
    if (r.taskStatus === 'rejected') continue;
    bySource.set(r.source, [...(bySource.get(r.source) ?? []), r]);
  }
  return [...bySource.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([source, rows]) => {
      const detections = rows.filter((r) => r.status === 'detected');
      if (detections.length > 0) {
        const latencies = detections.map((r) => r.latencyMs).filter((l): l is number => l !== null);
        return {
          source,
          outcome: 'detected',
          action: detections.some((r) => r.action === 'blocked') ? 'blocked' : detections.some((r) => r.action === 'alerted') ? 'alerted' : null,
          quality: bestQuality(detections.map((r) => r.quality)),
          latency_ms: latencies.length > 0 ? Math.min(...latencies) : null,
          late: detections.every((r) => r.late),
          recheck_only: detections.every((r) => r.isRecheck),
          evidence: detections.flatMap((r) => r.evidence),
        };
      }
      return { source, outcome: undetectedOutcome(rows.filter((r) => !r.isRecheck)), action: null, quality: null, latency_ms: null, late: false, recheck_only: false, evidence: [] };
    });
}

function undetectedOutcome(rows: SourceTaskResult[]): SourceOutcome | null {
  // one row per task: its latest answer (the repository's choice)
  const outcomes = rows.map((r): SourceOutcome | null => {
    if (r.taskStatus === 'timed_out' || r.taskStatus === 'failed') return r.status === 'unsupported' ? 'unsupported' : 'error';
    if (r.taskStatus !== 'completed') return null;
    return r.status === 'not_detected' ? 'not_detected' : r.status === 'unsupported' ? 'unsupported' : r.status === 'error' ? 'error' : null;
  });
  if (outcomes.length === 0 || outcomes.includes(null)) return null;
  if (outcomes.includes('error')) return 'error';
  if (outcomes.includes('unsupported')) return 'unsupported';
  return 'not_detected';
}

/** One technique's row of the sources × outcomes matrix. */
export interface TechniqueMatrix {
  technique_id: string | null;
  technique_name: string | null;
  executions: number;
  sources: Array<{
    source: string;
    detected: number;
    blocked: number;
    alerted: number;
    not_detected: number;
    error: number;
    unsupported: number;
    pending: number;
    latency_p50_ms: number | null;
  }>;
  /** some execution was detected by one source and not by another */
  disagreement: boolean;
  /** sources that saw an execution another source missed, and the sources that missed it */
  seen_by: string[];
  missed_by: string[];
}

export interface MatrixExecution {
  executionId: string;
  techniqueId: string | null;
  techniqueName: string | null;
  sources: SourceVerdict[];
}

/**
 * The sources × outcomes matrix of an operation, per technique, naming where sources disagree: on one execution,
 * one source `detected` and another `not_detected` (seen by the SIEM but not by the EDR, logged on the host but
 * alerted nowhere). Errors and unsupported sources are not disagreements: they did not look.
 */
export function sourceMatrix(executions: MatrixExecution[]): TechniqueMatrix[] {
  const byTechnique = new Map<string, MatrixExecution[]>();
  for (const e of executions) byTechnique.set(e.techniqueId ?? '', [...(byTechnique.get(e.techniqueId ?? '') ?? []), e]);
  return [...byTechnique.entries()]
    .sort(([a], [b]) => (a === '' ? 1 : b === '' ? -1 : a.localeCompare(b)))
    .map(([, group]) => {
      const counts = new Map<string, TechniqueMatrix['sources'][number] & { latencies: number[] }>();
      const seenBy = new Set<string>();
      const missedBy = new Set<string>();
      for (const execution of group) {
        const detectedHere = execution.sources.filter((s) => s.outcome === 'detected').map((s) => s.source);
        const missedHere = execution.sources.filter((s) => s.outcome === 'not_detected').map((s) => s.source);
        if (detectedHere.length > 0 && missedHere.length > 0) {
          detectedHere.forEach((s) => seenBy.add(s));
          missedHere.forEach((s) => missedBy.add(s));
        }
        for (const s of execution.sources) {
          const row = counts.get(s.source) ?? {
            source: s.source, detected: 0, blocked: 0, alerted: 0, not_detected: 0, error: 0, unsupported: 0, pending: 0, latency_p50_ms: null, latencies: [],
          };
          if (s.outcome === null) row.pending += 1;
          else row[s.outcome] += 1;
          if (s.action) row[s.action] += 1;
          if (s.latency_ms !== null) row.latencies.push(s.latency_ms);
          counts.set(s.source, row);
        }
      }
      return {
        technique_id: group[0].techniqueId,
        technique_name: group[0].techniqueName,
        executions: group.length,
        sources: [...counts.values()]
          .sort((a, b) => a.source.localeCompare(b.source))
          .map(({ latencies, ...row }) => ({ ...row, latency_p50_ms: median(latencies) })),
        disagreement: seenBy.size > 0,
        seen_by: [...seenBy].sort(),
        missed_by: [...missedBy].sort(),
      };
    });
}

function median(values: number[]): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  const mid = (sorted.length - 1) / 2;
  return Math.round((sorted[Math.floor(mid)] + sorted[Math.ceil(mid)]) / 2);
}
