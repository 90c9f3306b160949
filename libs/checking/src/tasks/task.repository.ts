import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DetectionType, ExecutionVerdict, InitialDelaySource, TaskPriority, TaskStatus } from '@purple/contracts';
import { DataSource, EntityManager } from 'typeorm';
import { inTransaction } from '../database';
import { TaskAlreadyCompletedError, TaskNotFoundError } from '../errors';
import { rollUpVerdict } from '../verdict/roll-up-verdict';

export interface RedispatchOutcome {
  taskId: string;
  executionId: string;
  previousStatus: TaskStatus;
  /** false when the task was pending already */
  changed: boolean;
  verdict: ExecutionVerdict;
}

/** A pending task as the dispatcher claims it: the task row with what the message needs from its execution. */
export interface ClaimedTask {
  id: string;
  executionId: string;
  detectionType: DetectionType;
  platform: string;
  connector: string;
  query: string;
  config: Record<string, unknown>;
  priority: TaskPriority;
  timeoutSeconds: number;
  /** dispatches so far; this one is attempt `attempts + 1` */
  attempts: number;
  maxAttempts: number;
  createdAt: Date;
  calderaOperationId: string;
  agentHost: string;
  agentPaw: string;
  command: string;
  executedAt: Date;
  calderaLinkId: string | null;
  correlationId: string;
  executionVerdict: string;
  /** the execution's `{{marker}}` */
  marker: string;
  /** the task this one re-checks (one more search, later), else null */
  recheckOf: string | null;
}


export interface InitialDelayChoice {
  seconds: number;
  source: InitialDelaySource;
}

/** Pending tasks claimed in one transaction; their rows stay locked (FOR UPDATE) until it ends. */
export interface PendingBatch {
  readonly tasks: ClaimedTask[];
  /**
   * after the broker's confirm: dispatched, with the deadline `max(searchClosesAt, now) + extraSeconds`, and the
   * initial delay it was sent with
   */
  markDispatched(task: ClaimedTask, attempt: number, searchClosesAt: Date, extraSeconds: number, initialDelay?: InitialDelayChoice): Promise<void>;
  /** a task that cannot become a valid message: failed, with the reason, and its execution rolled up */
  markFailed(task: ClaimedTask, reason: string): Promise<void>;
  /** not sent (the broker refused or is away): stays pending for the next sweep, with the reason noted */
  noteUnsent(task: ClaimedTask, reason: string): Promise<void>;
}

/** A dispatched task whose deadline has passed without an answer. */
export interface OverdueTask {
  id: string;
  executionId: string;
  attempts: number;
  maxAttempts: number;
}

/** Overdue tasks claimed in one transaction, locked until it ends. */
export interface OverdueBatch {
  readonly tasks: OverdueTask[];
  /** pending again: the database NOTIFYs the dispatchers, which send it as the next attempt */
  retry(task: OverdueTask, reason: string): Promise<void>;
  /** closed as timed out, and its execution rolled up to its verdict, in the same transaction */
  timeOut(task: OverdueTask, reason: string): Promise<void>;
}

export interface DispatchTaskRepository {
  /** false until PostgreSQL is connected (the app connects in the background) */
  readonly available: boolean;
  withPendingBatch<T>(limit: number, work: (batch: PendingBatch) => Promise<T>): Promise<T>;
  withOverdueBatch<T>(limit: number, work: (batch: OverdueBatch) => Promise<T>): Promise<T>;
  /** each source's (connector's) p90 ingestion delay in ms over its latest detections, when it has enough of them */
  learnedIngestionDelays?(minSamples: number): Promise<Map<string, number>>;
}

export const DISPATCH_TASK_REPOSITORY = Symbol('DISPATCH_TASK_REPOSITORY');

const CLAIM_PENDING = `
  SELECT t.id, t.execution_id, t.detection_type, t.platform, t.connector, t.query, t.config, t.priority,
         t.timeout_seconds, t.attempts, t.max_attempts, t.created_at,
         o.caldera_operation_id, e.agent_host, e.agent_paw, e.command, e.executed_at, e.caldera_link_id,
         e.correlation_id, e.verdict, e.marker, t.recheck_of
    FROM detection_task t
    JOIN execution e ON e.id = t.execution_id
    JOIN operation o ON o.id = e.operation_id
   WHERE t.status = 'pending' AND (t.not_before IS NULL OR t.not_before <= now())
   ORDER BY CASE t.priority WHEN 'high' THEN 0 WHEN 'medium' THEN 1 ELSE 2 END, t.created_at
   LIMIT $1
     FOR UPDATE OF t SKIP LOCKED`;

const CLAIM_OVERDUE = `
  SELECT id, execution_id, attempts, max_attempts
    FROM detection_task
   WHERE status = 'dispatched' AND deadline_at < now()
   ORDER BY deadline_at
   LIMIT $1
     FOR UPDATE SKIP LOCKED`;

/** the latest detections per source the learned delay is taken over: recent enough to follow a SIEM's changes */
const LEARNING_SAMPLE_SIZE = 500;

const LEARNED_DELAYS = `
  SELECT connector, percentile_cont(0.9) WITHIN GROUP (ORDER BY ingestion_delay_ms) AS p90
    FROM (SELECT t.connector, r.ingestion_delay_ms,
                 row_number() OVER (PARTITION BY t.connector ORDER BY r.received_at DESC) AS n
            FROM detection_result r JOIN detection_task t ON t.id = r.task_id
           WHERE r.ingestion_delay_ms IS NOT NULL) latest
   WHERE n <= $2
   GROUP BY connector
  HAVING count(*) >= $1`;

interface PendingRow {
  id: string;
  execution_id: string;
  detection_type: DetectionType;
  platform: string;
  connector: string;
  query: string;
  config: Record<string, unknown> | null;
  priority: TaskPriority;
  timeout_seconds: number;
  attempts: number;
  max_attempts: number;
  created_at: Date;
  caldera_operation_id: string;
  agent_host: string;
  agent_paw: string;
  command: string;
  executed_at: Date;
  caldera_link_id: string | null;
  correlation_id: string;
  verdict: string;
  marker: string;
  recheck_of: string | null;
}

export interface TaskRow {
  id: string;
  detection_type: string | null;
  platform: string;
  host_os: string | null;
  connector: string;
  query: string;
  status: string;
  attempts: number;
  max_attempts: number;
  dispatched_at: Date | null;
  completed_at: Date | null;
  last_error: string | null;
  rejection_reason: string | null;
  recheck_of: string | null;
  not_before: Date | null;
  initial_delay_seconds: number | null;
  initial_delay_source: string | null;
  result: {
    status: string;
    detected: boolean;
    confidence: number | null;
    events_found: number;
    evidence: unknown[];
    error: string | null;
    matched_event_at: string | null;
    result_at: string;
    attempt: number;
  } | null;
}

/**
 * Detection tasks after they were created (an execution's tasks are inserted with it, a re-check with its
 * result): the dispatcher's claims, an operator's redispatch, the API's task list.
 *
 * Claims use `FOR UPDATE SKIP LOCKED`, so dispatchers side by side each take different tasks, and a claimed row
 * stays locked until its transaction commits: a task is marked dispatched in the same transaction that claimed it,
 * after the broker's confirm. A crash in between rolls the claim back, and the task is sent again (the same
 * attempt, the same message id): re-sent at worst, never lost.
 */
@Injectable()
export class TaskRepository implements DispatchTaskRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Puts a task back to pending; the database's NOTIFY wakes the dispatcher, which sends it as a new attempt.
   * `attempts` is kept, so the next dispatch is a new attempt with a result slot of its own. A completed task
   * is refused: it has its answer.
   */
  reopen(taskId: string): Promise<RedispatchOutcome> {
    return inTransaction(this.dataSource, async (manager) => {
      const [task] = (await manager.query(`SELECT id, execution_id, status FROM detection_task WHERE id = $1 FOR UPDATE`, [
        taskId,
      ])) as Array<{ id: string; execution_id: string; status: TaskStatus }>;
      if (!task) throw new TaskNotFoundError(taskId);
      if (task.status === 'completed') throw new TaskAlreadyCompletedError(taskId);
      const changed = task.status !== 'pending';
      if (changed) {
        await manager.query(
          `UPDATE detection_task SET status = 'pending', deadline_at = NULL, completed_at = NULL, updated_at = now() WHERE id = $1`,
          [taskId],
        );
      }
      const verdict = await rollUpVerdict(manager, task.execution_id);
      return { taskId, executionId: task.execution_id, previousStatus: task.status, changed, verdict };
    });
  }

  /** Each task with its latest result (the answer to its latest attempt). */
  tasksOf(executionId: string): Promise<TaskRow[]> {
    return this.dataSource.query(
      `SELECT t.id, t.detection_type, t.platform, t.host_os, t.connector, t.query, t.status, t.attempts, t.max_attempts,
              t.dispatched_at, t.completed_at, t.last_error, t.rejection_reason, t.recheck_of, t.not_before,
              t.initial_delay_seconds, t.initial_delay_source,
              (SELECT json_build_object('status', r.status, 'detected', r.detected, 'confidence', r.confidence,
                        'events_found', r.events_found, 'evidence', r.evidence, 'error', r.error,
                        'matched_event_at', r.matched_event_at, 'result_at', r.result_at, 'attempt', r.attempt,
                        'match_quality', r.match_quality, 'action', r.action, 'late', r.late)
                 FROM detection_result r WHERE r.task_id = t.id ORDER BY r.attempt DESC LIMIT 1) AS result
         FROM detection_task t WHERE t.execution_id = $1 ORDER BY t.created_at, t.id`,
      [executionId],
    );
  }

  get available(): boolean {
    return this.dataSource.isInitialized;
  }

  withPendingBatch<T>(limit: number, work: (batch: PendingBatch) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager) => {
      const rows = (await manager.query(CLAIM_PENDING, [limit])) as PendingRow[];
      const pendingExecutions = new Set<string>();
      const result = await work({
        tasks: rows.map(toClaimedTask),
        markDispatched: async (task, attempt, searchClosesAt, extraSeconds, initialDelay) => {
          await manager.query(
            `UPDATE detection_task
                SET status = 'dispatched', attempts = $2, dispatched_at = now(),
                    deadline_at = GREATEST($3::timestamptz, now()) + make_interval(secs => $4),
                    completed_at = NULL, last_error = NULL, updated_at = now(),
                    initial_delay_seconds = $5, initial_delay_source = $6
              WHERE id = $1`,
            [task.id, attempt, searchClosesAt, extraSeconds, initialDelay?.seconds ?? null, initialDelay?.source ?? null],
          );
          if (task.executionVerdict === 'pending') pendingExecutions.add(task.executionId);
        },
        markFailed: async (task, reason) => {
          await manager.query(
            `UPDATE detection_task SET status = 'failed', completed_at = now(), last_error = $2, updated_at = now() WHERE id = $1`,
            [task.id, reason],
          );
          await rollUpVerdict(manager, task.executionId);
        },
        noteUnsent: async (task, reason) => {
          await manager.query(`UPDATE detection_task SET last_error = $2, updated_at = now() WHERE id = $1`, [task.id, reason]);
        },
      });
      // the first dispatch moves an execution from pending to checking
      for (const executionId of pendingExecutions) await rollUpVerdict(manager, executionId);
      return result;
    });
  }

  async learnedIngestionDelays(minSamples: number): Promise<Map<string, number>> {
    const rows = (await this.dataSource.query(LEARNED_DELAYS, [minSamples, LEARNING_SAMPLE_SIZE])) as Array<{ connector: string; p90: number }>;
    return new Map(rows.map((r) => [r.connector, Number(r.p90)]));
  }

  withOverdueBatch<T>(limit: number, work: (batch: OverdueBatch) => Promise<T>): Promise<T> {
    return this.dataSource.transaction(async (manager: EntityManager) => {
      const rows = (await manager.query(CLAIM_OVERDUE, [limit])) as Array<{
        id: string;
        execution_id: string;
        attempts: number;
        max_attempts: number;
      }>;
      return work({
        tasks: rows.map((r) => ({ id: r.id, executionId: r.execution_id, attempts: r.attempts, maxAttempts: r.max_attempts })),
        retry: async (task, reason) => {
          await manager.query(
            `UPDATE detection_task SET status = 'pending', deadline_at = NULL, last_error = $2, updated_at = now() WHERE id = $1`,
            [task.id, reason],
          );
        },
        timeOut: async (task, reason) => {
          await manager.query(
            `UPDATE detection_task SET status = 'timed_out', completed_at = now(), last_error = $2, updated_at = now() WHERE id = $1`,
            [task.id, reason],
          );
          await rollUpVerdict(manager, task.executionId);
        },
      });
    });
  }
}

function toClaimedTask(row: PendingRow): ClaimedTask {
  return {
    id: row.id,
    executionId: row.execution_id,
    detectionType: row.detection_type,
    platform: row.platform,
    connector: row.connector,
    query: row.query,
    config: row.config ?? {},
    priority: row.priority,
    timeoutSeconds: row.timeout_seconds,
    attempts: row.attempts,
    maxAttempts: row.max_attempts,
    createdAt: row.created_at,
    calderaOperationId: row.caldera_operation_id,
    agentHost: row.agent_host,
    agentPaw: row.agent_paw,
    command: row.command,
    executedAt: row.executed_at,
    calderaLinkId: row.caldera_link_id,
    correlationId: row.correlation_id,
    executionVerdict: row.verdict,
    marker: row.marker,
    recheckOf: row.recheck_of,
  };
}
