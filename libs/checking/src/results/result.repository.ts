import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DetectionAction, DetectionType, ExecutionVerdict, MatchQuality, ResponseStatus, TaskStatus } from '@purple/contracts';
import { DataSource, EntityManager } from 'typeorm';
import { inTransaction, withoutNul } from '../database';
import { rollUpVerdict } from '../verdict/roll-up-verdict';

/** A task as seen while its row is locked. */
export interface LockedTask {
  id: string;
  executionId: string;
  status: TaskStatus;
  attempts: number;
  /** the execution's correlation id, for log lines */
  correlationId: string;
  detectionType: DetectionType;
  platform: string;
  /** when the latest attempt was dispatched (the database's clock); null when never dispatched */
  dispatchedAt: Date | null;
  /** the task's detection config (its `recheck_after_seconds`) */
  config: Record<string, unknown>;
  /** a re-check task (one more search after not_detected) */
  isRecheck: boolean;
  /** the source: the connector that ran it */
  connector: string;
}

/** The execution as its row is locked for a result. */
export interface LockedExecution {
  verdict: ExecutionVerdict;
  executedAt: Date;
  techniqueId: string | null;
}

export interface NewDetectionResult {
  taskId: string;
  attempt: number;
  detectionId: string;
  status: ResponseStatus;
  detected: boolean;
  confidence: number | null;
  eventsFound: number;
  evidence: unknown[];
  error: string | null;
  matchedEventAt: Date | null;
  resultAt: Date;
  workerId: string | null;
  response: Record<string, unknown>;
  matchQuality: MatchQuality | null;
  action: DetectionAction | null;
  late: boolean;
  ingestionDelayMs: number | null;
}

/** The steps of recording one result, all in one transaction. */
export interface ResultTransaction {
  /** locks the task row until commit; null when there is no such task */
  lockTask(taskId: string): Promise<LockedTask | null>;
  /**
   * When the result was stored, by the database's clock (the one `dispatched_at` is set by, so the two compare
   * across hosts); null when this task attempt already has a result.
   */
  insertResult(result: NewDetectionResult): Promise<Date | null>;
  closeTask(taskId: string, status: 'completed' | 'failed', lastError: string | null): Promise<void>;
  rollUpVerdict(executionId: string): Promise<ExecutionVerdict>;
  /** the execution's verdict now, its row locked until commit (before the task's: the roll-up's order) */
  lockExecution(executionId: string): Promise<LockedExecution>;
  /** one more search of the task, sent no earlier than `afterSeconds` from now; once per task */
  scheduleRecheck(taskId: string, afterSeconds: number): Promise<void>;
}

@Injectable()
export class ResultRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (tx: ResultTransaction) => Promise<T>): Promise<T> {
    return inTransaction(this.dataSource, (manager) => work(resultTransaction(manager)));
  }
}

function resultTransaction(manager: EntityManager): ResultTransaction {
  return {
    async lockTask(taskId) {
      const [row] = (await manager.query(
        `SELECT t.id, t.execution_id, t.status, t.attempts, e.correlation_id, t.detection_type, t.platform, t.dispatched_at,
                t.config, t.recheck_of, t.connector
           FROM detection_task t JOIN execution e ON e.id = t.execution_id
          WHERE t.id = $1
            FOR UPDATE OF t`,
        [taskId],
      )) as Array<{
        id: string;
        execution_id: string;
        status: TaskStatus;
        attempts: number;
        correlation_id: string;
        detection_type: DetectionType;
        platform: string;
        dispatched_at: Date | null;
        config: Record<string, unknown> | null;
        recheck_of: string | null;
        connector: string;
      }>;
      return row
        ? {
            id: row.id,
            executionId: row.execution_id,
            status: row.status,
            attempts: row.attempts,
            correlationId: row.correlation_id,
            detectionType: row.detection_type,
            platform: row.platform,
            dispatchedAt: row.dispatched_at,
            config: row.config ?? {},
            isRecheck: row.recheck_of !== null,
            connector: row.connector,
          }
        : null;
    },

    async insertResult(result) {
      const r = withoutNul(result);
      const rows = (await manager.query(
        `INSERT INTO detection_result (task_id, attempt, detection_id, status, detected, confidence, events_found,
                                       evidence, error, matched_event_at, result_at, worker_id, response,
                                       match_quality, action, late, ingestion_delay_ms)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13::jsonb, $14, $15, $16, $17)
         ON CONFLICT ON CONSTRAINT detection_result_task_attempt_uq DO NOTHING
         RETURNING clock_timestamp() AS stored_at`,
        [
          r.taskId,
          r.attempt,
          r.detectionId,
          r.status,
          r.detected,
          r.confidence,
          r.eventsFound,
          JSON.stringify(r.evidence),
          r.error,
          r.matchedEventAt,
          r.resultAt,
          r.workerId,
          JSON.stringify(r.response),
          r.matchQuality,
          r.action,
          r.late,
          r.ingestionDelayMs === null ? null : Math.round(r.ingestionDelayMs),
        ],
      )) as Array<{ stored_at: Date }>;
      return rows[0]?.stored_at ?? null;
    },

    async closeTask(taskId, status, lastError) {
      await manager.query(
        `UPDATE detection_task SET status = $2, completed_at = now(), last_error = $3, updated_at = now() WHERE id = $1`,
        [taskId, status, lastError === null ? null : withoutNul(lastError)],
      );
    },

    rollUpVerdict: (executionId) => rollUpVerdict(manager, executionId),

    async lockExecution(executionId) {
      const [row] = (await manager.query(`SELECT verdict, executed_at, technique_id FROM execution WHERE id = $1 FOR UPDATE`, [executionId])) as Array<{
        verdict: ExecutionVerdict;
        executed_at: Date;
        technique_id: string | null;
      }>;
      return { verdict: row.verdict, executedAt: row.executed_at, techniqueId: row.technique_id };
    },

    async scheduleRecheck(taskId, afterSeconds) {
      // the re-check searches the same window once more, at once when it is sent
      await manager.query(
        `INSERT INTO detection_task (execution_id, detection_type, platform, connector, query, config, priority, timeout_seconds,
                                     max_attempts, status, host_os, recheck_of, not_before, created_at)
         SELECT execution_id, detection_type, platform, connector, query,
                config || jsonb_build_object('initial_delay_seconds', 0, 'jitter_seconds', 0), priority, timeout_seconds,
                max_attempts, 'pending', host_os, id, now() + make_interval(secs => $2), clock_timestamp()
           FROM detection_task WHERE id = $1
         ON CONFLICT (recheck_of) WHERE recheck_of IS NOT NULL DO NOTHING`,
        [taskId, afterSeconds],
      );
    },
  };
}
