import { Injectable } from '@nestjs/common';
import { Comparison, compareRuns, RunExecution } from './compare-runs';
import { percentile } from './learned-delay';
import { ExecutionTaskRow, IngestionDelayRow, PurpleReadRepository } from './purple-read.repository';
import { MatrixExecution, SourceTaskResult, SourceVerdict, sourceMatrix, sourceVerdicts, TechniqueMatrix } from './source-outcomes';

export class OperationNotFoundError extends Error {
  constructor(readonly operationId: string) {
    super(`no operation ${operationId}`);
    this.name = 'OperationNotFoundError';
  }
}

interface ExecutionView extends MatrixExecution {
  host: string;
  command: string;
  verdict: string;
  latencyMs: number | null;
}

const latencyOf = (row: ExecutionTaskRow): number | null =>
  row.status !== 'detected' ? null : Math.max(0, ((row.matched_event_at ?? row.result_at) as Date).getTime() - row.executed_at.getTime());

export function sourceTaskResultOf(row: ExecutionTaskRow): SourceTaskResult {
  return {
    executionId: row.execution_id,
    source: row.connector as string,
    taskStatus: row.task_status as string,
    isRecheck: row.is_recheck ?? false,
    attempt: row.attempt,
    status: row.status,
    action: row.action,
    quality: row.match_quality,
    latencyMs: latencyOf(row),
    late: row.late ?? false,
    evidence: row.evidence ?? [],
  };
}

/** The rows of an operation as executions with each source's outcome. */
export function executionViewsOf(rows: ExecutionTaskRow[]): ExecutionView[] {
  const byExecution = new Map<string, ExecutionTaskRow[]>();
  for (const row of rows) byExecution.set(row.execution_id, [...(byExecution.get(row.execution_id) ?? []), row]);
  return [...byExecution.values()].map((group) => ({
    executionId: group[0].execution_id,
    techniqueId: group[0].technique_id,
    techniqueName: group[0].technique_name,
    host: group[0].agent_host,
    command: group[0].command,
    verdict: group[0].verdict,
    latencyMs: group[0].detection_latency_ms === null ? null : Number(group[0].detection_latency_ms),
    sources: sourceVerdicts(group.filter((r) => r.task_id !== null).map(sourceTaskResultOf)),
  }));
}

/** An operation's sources × outcomes matrix per technique, naming where sources disagree. */
@Injectable()
export class GetSourceMatrix {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(operationId: string): Promise<{ operation_id: string; disagreements: string[]; techniques: TechniqueMatrix[] }> {
    if (!(await this.read.operationExists(operationId))) throw new OperationNotFoundError(operationId);
    const techniques = sourceMatrix(executionViewsOf(await this.read.operationTaskRows(operationId)));
    return {
      operation_id: operationId,
      disagreements: techniques.filter((t) => t.disagreement).map((t) => t.technique_id ?? '(no technique)'),
      techniques,
    };
  }
}

/** One execution's outcome per source, every result as it came, and every verdict it had. */
@Injectable()
export class GetExecutionOutcomes {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(executionId: string): Promise<{ sources: SourceVerdict[]; results: Array<Record<string, unknown>>; history: Array<Record<string, unknown>> }> {
    const [rows, results, history] = await Promise.all([
      this.read.executionTaskRows(executionId),
      this.read.resultsOf(executionId),
      this.read.verdictHistory(executionId),
    ]);
    return {
      sources: sourceVerdicts(rows.filter((r) => r.task_id !== null).map(sourceTaskResultOf)),
      results,
      history: history.map((h) => ({ ...h, detection_latency_ms: h.detection_latency_ms === null ? null : Number(h.detection_latency_ms) })),
    };
  }
}

export interface OperationComparison extends Comparison {
  a: string;
  b: string;
}

/** Run `a` (the baseline) against run `b`: what was lost, gained, still missed, and slower, per technique and source. */
@Injectable()
export class CompareOperations {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(a: string, b: string, latencyThresholdMs: number): Promise<OperationComparison> {
    for (const id of [a, b]) if (!(await this.read.operationExists(id))) throw new OperationNotFoundError(id);
    const run = async (id: string): Promise<RunExecution[]> =>
      executionViewsOf(await this.read.operationTaskRows(id)).map((e) => ({
        techniqueId: e.techniqueId,
        techniqueName: e.techniqueName,
        abilityId: null,
        command: e.command,
        host: e.host,
        verdict: e.verdict,
        latencyMs: e.latencyMs,
        sources: e.sources.map((s) => ({ source: s.source, outcome: s.outcome })),
      }));
    return { a, b, ...compareRuns(await run(a), await run(b), { latencyThresholdMs }) };
  }
}

export interface TimeToDetect {
  operation_id: string | null;
  sources: Array<{ source: string; samples: number; p50_ms: number; p90_ms: number }>;
  techniques: Array<{ source: string; technique_id: string | null; samples: number; p50_ms: number; p90_ms: number }>;
  /** what the dispatcher learns initial delays from: each source's match time minus event time */
  ingestion_delays: IngestionDelayRow[];
}

/** the latest detections time to detect is computed over */
const TIME_TO_DETECT_SAMPLES = 10_000;

/** p50/p90 time to detect per source and per source and technique, and each source's learned ingestion delay. */
@Injectable()
export class GetTimeToDetect {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(operationId?: string): Promise<TimeToDetect> {
    if (operationId !== undefined && !(await this.read.operationExists(operationId))) throw new OperationNotFoundError(operationId);
    const rows = await this.read.detectedTaskRows(operationId, TIME_TO_DETECT_SAMPLES);
    const stats = (values: number[]) => ({
      samples: values.length,
      p50_ms: Math.round(percentile(values, 0.5) as number),
      p90_ms: Math.round(percentile(values, 0.9) as number),
    });
    const bySource = new Map<string, number[]>();
    const byTechnique = new Map<string, { source: string; technique_id: string | null; values: number[] }>();
    for (const row of rows) {
      const latency = latencyOf(row);
      if (latency === null || row.connector === null) continue;
      bySource.set(row.connector, [...(bySource.get(row.connector) ?? []), latency]);
      const key = `${row.connector}\u0000${row.technique_id ?? ''}`;
      const entry = byTechnique.get(key) ?? { source: row.connector, technique_id: row.technique_id, values: [] };
      entry.values.push(latency);
      byTechnique.set(key, entry);
    }
    return {
      operation_id: operationId ?? null,
      sources: [...bySource.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([source, values]) => ({ source, ...stats(values) })),
      techniques: [...byTechnique.values()]
        .sort((x, y) => x.source.localeCompare(y.source) || (x.technique_id ?? '').localeCompare(y.technique_id ?? ''))
        .map(({ source, technique_id, values }) => ({ source, technique_id, ...stats(values) })),
      ingestion_delays: await this.read.ingestionDelays(500),
    };
  }
}

export const PURPLE_QUERIES = [GetSourceMatrix, GetExecutionOutcomes, CompareOperations, GetTimeToDetect];
