import type { ExecutionVerdict, ResponseStatus, TaskStatus } from '@purple/contracts';
import type { EntityManager } from 'typeorm';
import { counter, histogram } from '@purple/platform';
import { techniqueLabel } from '../results/task-processing-metric';
import { isLateDetection } from '../purple/late-detection';
import { decideVerdict, isFinalVerdict } from './decide-verdict';

const verdicts = counter('purple_verdicts_total', 'Executions that reached a final verdict, by verdict', ['verdict']);
const detectionLatency = histogram(
  'purple_detection_latency_seconds',
  'Time from a red-team execution to its detection, per ATT&CK technique',
  ['technique_id'],
  [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600],
);

interface ExecutionRow {
  executed_at: Date;
  technique_id: string | null;
  verdict: ExecutionVerdict;
  detection_latency_ms: string | null;
  verdict_at: Date | null;
}

/**
 * Recomputes an execution's verdict from its tasks and results and stores it (with the detection latency, and
 * `verdict_at` when the verdict becomes final). Must run inside the caller's transaction: it locks the execution
 * row, so concurrent results of one execution roll up one after the other and never overwrite each other.
 * Used by the result consumer after storing a result and by the dispatcher after timing a task out.
 */
export async function rollUpVerdict(manager: EntityManager, executionId: string): Promise<ExecutionVerdict> {
  if (!manager.queryRunner?.isTransactionActive) {
    throw new Error('rollUpVerdict must run inside a transaction (it locks the execution row)');
  }
  const [execution] = (await manager.query(
    `SELECT executed_at, technique_id, verdict, detection_latency_ms, verdict_at FROM execution WHERE id = $1 FOR UPDATE`,
    [executionId],
  )) as ExecutionRow[];
  if (!execution) throw new Error(`execution ${executionId} does not exist`);

  const tasks = (await manager.query(
    `SELECT id, status, attempts, recheck_of IS NOT NULL AS is_recheck FROM detection_task WHERE execution_id = $1`,
    [executionId],
  )) as Array<{ id: string; status: TaskStatus; attempts: number; is_recheck: boolean }>;
  const results = (await manager.query(
    `SELECT r.task_id, r.attempt, r.status, r.matched_event_at, r.result_at
       FROM detection_result r JOIN detection_task t ON t.id = r.task_id
      WHERE t.execution_id = $1`,
    [executionId],
  )) as Array<{ task_id: string; attempt: number; status: ResponseStatus; matched_event_at: Date | null; result_at: Date }>;

  const decision = decideVerdict({
    executedAt: execution.executed_at,
    tasks: tasks.map((t) => ({ id: t.id, status: t.status, attempts: t.attempts, isRecheck: t.is_recheck })),
    results: results.map((r) => ({
      taskId: r.task_id,
      attempt: r.attempt,
      status: r.status,
      matchedEventAt: r.matched_event_at,
      resultAt: r.result_at,
    })),
  });

  const latency = decision.latencyMs === null ? null : String(Math.round(decision.latencyMs));
  if (decision.verdict === execution.verdict && latency === execution.detection_latency_ms) return execution.verdict;

  // verdict_at is when the verdict became final: kept while a final verdict only refines its latency
  const verdictAt = !isFinalVerdict(decision.verdict)
    ? null
    : decision.verdict === execution.verdict && execution.verdict_at
      ? execution.verdict_at
      : new Date();
  const late = isLateDetection(decision.verdict === 'detected' ? 'detected' : 'not_detected', execution.verdict);
  await manager.query(
    `UPDATE execution SET verdict = $2, detection_latency_ms = $3, verdict_at = $4, late_detection = late_detection OR $5 WHERE id = $1`,
    [executionId, decision.verdict, latency, verdictAt, late],
  );
  // the history keeps every verdict the execution had (a late detection keeps its not-detected period)
  if (decision.verdict !== execution.verdict) {
    await manager.query(
      `INSERT INTO execution_verdict_change (execution_id, from_verdict, to_verdict, late, detection_latency_ms) VALUES ($1, $2, $3, $4, $5)`,
      [executionId, execution.verdict, decision.verdict, late, latency],
    );
  }
  // counted once, when the verdict first becomes final (a rolled-back transaction may count one too many)
  if (isFinalVerdict(decision.verdict) && decision.verdict !== execution.verdict) {
    verdicts.inc({ verdict: decision.verdict });
    if (decision.verdict === 'detected' && decision.latencyMs !== null) {
      detectionLatency.observe({ technique_id: techniqueLabel(execution.technique_id) }, decision.latencyMs / 1000);
    }
  }
  return decision.verdict;
}
