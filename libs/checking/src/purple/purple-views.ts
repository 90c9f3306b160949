import { ExecutionTaskRow } from './purple-read.repository';
import { MatrixExecution, SourceTaskResult, sourceVerdicts } from './source-outcomes';

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

export const latencyOf = (row: ExecutionTaskRow): number | null =>
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
