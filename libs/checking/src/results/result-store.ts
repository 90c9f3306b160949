import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { ResultStatus, TaskStatus, Verdict } from '@purple/persistence';
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
}

export interface NewDetectionResult {
  taskId: string;
  attempt: number;
  detectionId: string;
  status: ResultStatus;
  detected: boolean;
  confidence: number | null;
  eventsFound: number;
  evidence: unknown[];
  error: string | null;
  matchedEventAt: Date | null;
  resultAt: Date;
  workerId: string | null;
  response: Record<string, unknown>;
}

/** The steps of recording one result, all in one transaction. */
export interface ResultTransaction {
  /** locks the task row until commit; null when there is no such task */
  lockTask(taskId: string): Promise<LockedTask | null>;
  /** false when this task attempt already has a result */
  insertResult(result: NewDetectionResult): Promise<boolean>;
  closeTask(taskId: string, status: 'completed' | 'failed', lastError: string | null): Promise<void>;
  rollUpVerdict(executionId: string): Promise<Verdict>;
}

@Injectable()
export class ResultStore {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  transaction<T>(work: (tx: ResultTransaction) => Promise<T>): Promise<T> {
    return inTransaction(this.dataSource, (manager) => work(resultTransaction(manager)));
  }
}

function resultTransaction(manager: EntityManager): ResultTransaction {
  return {
    async lockTask(taskId) {
      const [row] = (await manager.query(
        `SELECT t.id, t.execution_id, t.status, t.attempts, e.correlation_id
           FROM detection_task t JOIN execution e ON e.id = t.execution_id
          WHERE t.id = $1
            FOR UPDATE OF t`,
        [taskId],
      )) as Array<{ id: string; execution_id: string; status: TaskStatus; attempts: number; correlation_id: string }>;
      return row
        ? { id: row.id, executionId: row.execution_id, status: row.status, attempts: row.attempts, correlationId: row.correlation_id }
        : null;
    },

    async insertResult(result) {
      const r = withoutNul(result);
      const rows = (await manager.query(
        `INSERT INTO detection_result (task_id, attempt, detection_id, status, detected, confidence, events_found,
                                       evidence, error, matched_event_at, result_at, worker_id, response)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8::jsonb, $9, $10, $11, $12, $13::jsonb)
         ON CONFLICT ON CONSTRAINT detection_result_task_attempt_uq DO NOTHING
         RETURNING id`,
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
        ],
      )) as unknown[];
      return rows.length > 0;
    },

    async closeTask(taskId, status, lastError) {
      await manager.query(
        `UPDATE detection_task SET status = $2, completed_at = now(), last_error = $3, updated_at = now() WHERE id = $1`,
        [taskId, status, lastError === null ? null : withoutNul(lastError)],
      );
    },

    rollUpVerdict: (executionId) => rollUpVerdict(manager, executionId),
  };
}
