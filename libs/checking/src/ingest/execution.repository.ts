import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Verdict } from '@purple/persistence';
import { DataSource, EntityManager } from 'typeorm';
import { inTransaction, withoutNul } from '../database';
import { markerFor } from '../purple/marker';
import { PlannedTask } from './plan-tasks';

/** Everything one execution result becomes in PostgreSQL. */
export interface NewExecution {
  calderaOperationId: string;
  operationName: string | null;
  dedupeKey: string;
  calderaLinkId: string | null;
  agentHost: string;
  agentPaw: string;
  command: string;
  result: Record<string, unknown>;
  executedAt: Date;
  tactic: string | null;
  techniqueId: string | null;
  techniqueName: string | null;
  correlationId: string;
  /** `pending`, or `no_detections` / `no_usable_detections` when there is nothing to run */
  verdict: Verdict;
  tasks: PlannedTask[];
}

export interface StoredExecution {
  /** false: an execution with the same dedupe key already existed, and nothing was written */
  created: boolean;
  executionId: string;
  operationId: string;
  /** the existing execution's correlation id for a duplicate */
  correlationId: string;
  verdict: Verdict;
  taskIds: string[];
}

/** Writes executions, their operation and their tasks. */
@Injectable()
export class ExecutionRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** In one transaction: upsert the operation, insert the execution and its pending tasks — or nothing at all. */
  store(execution: NewExecution): Promise<StoredExecution> {
    const clean = withoutNul(execution);
    return inTransaction(this.dataSource, async (manager) => {
      const existing = await this.findByDedupeKey(manager, clean.dedupeKey);
      if (existing) return existing;

      const [operation] = (await manager.query(
        `INSERT INTO operation (caldera_operation_id, name) VALUES ($1, $2)
         ON CONFLICT (caldera_operation_id)
         DO UPDATE SET name = COALESCE(EXCLUDED.name, operation.name), updated_at = now()
         RETURNING id`,
        [clean.calderaOperationId, clean.operationName],
      )) as Array<{ id: string }>;

      // a concurrent delivery of the same execution may commit first: then this inserts nothing
      const inserted = (await manager.query(
        `INSERT INTO execution (operation_id, dedupe_key, caldera_link_id, agent_host, agent_paw, command, result,
                                executed_at, tactic, technique_id, technique_name, correlation_id, verdict, verdict_at, marker)
         VALUES ($1, $2, $3, $4, $5, $6, $7::jsonb, $8, $9, $10, $11, $12, $13::text,
                 CASE WHEN $13::text = 'pending' THEN NULL ELSE now() END, $14)
         ON CONFLICT (dedupe_key) DO NOTHING
         RETURNING id`,
        [
          operation.id,
          clean.dedupeKey,
          clean.calderaLinkId,
          clean.agentHost,
          clean.agentPaw,
          clean.command,
          JSON.stringify(clean.result),
          clean.executedAt,
          clean.tactic,
          clean.techniqueId,
          clean.techniqueName,
          clean.correlationId,
          clean.verdict,
          markerFor(clean.calderaLinkId),
        ],
      )) as Array<{ id: string }>;
      const executionId = inserted[0]?.id;
      if (!executionId) {
        const raced = await this.findByDedupeKey(manager, clean.dedupeKey);
        if (!raced) throw new Error(`execution ${clean.dedupeKey} neither inserted nor found`);
        return raced;
      }

      const taskIds: string[] = [];
      for (const task of clean.tasks) {
        // a rejected entry is closed at once: the dispatcher only takes pending tasks. clock_timestamp(), not the
        // transaction's now(): tasks read back in the order the producer listed them
        const [row] = (await manager.query(
          `INSERT INTO detection_task (execution_id, detection_type, platform, connector, query, config, priority,
                                       timeout_seconds, max_attempts, status, host_os, rejection_reason, completed_at, created_at)
           VALUES ($1, $2, $3, $4, $5, $6::jsonb, $7, $8, $9, $10::text, $11, $12,
                   CASE WHEN $10::text = 'rejected' THEN now() END,
                   clock_timestamp())
           RETURNING id`,
          [
            executionId,
            task.detectionType,
            task.platform,
            task.connector,
            task.query,
            JSON.stringify(task.config),
            task.priority,
            task.timeoutSeconds,
            task.maxAttempts,
            task.status,
            task.hostOs,
            task.rejectionReason,
          ],
        )) as Array<{ id: string }>;
        taskIds.push(row.id);
      }
      return {
        created: true,
        executionId,
        operationId: operation.id,
        correlationId: clean.correlationId,
        verdict: clean.verdict,
        taskIds,
      };
    });
  }

  private async findByDedupeKey(manager: EntityManager, dedupeKey: string): Promise<StoredExecution | null> {
    const [row] = (await manager.query(
      `SELECT e.id, e.operation_id, e.correlation_id, e.verdict,
              COALESCE(array_agg(t.id::text ORDER BY t.created_at, t.id) FILTER (WHERE t.id IS NOT NULL), '{}'::text[]) AS task_ids
         FROM execution e LEFT JOIN detection_task t ON t.execution_id = e.id
        WHERE e.dedupe_key = $1
        GROUP BY e.id`,
      [dedupeKey],
    )) as Array<{ id: string; operation_id: string; correlation_id: string; verdict: Verdict; task_ids: string[] }>;
    if (!row) return null;
    return {
      created: false,
      executionId: row.id,
      operationId: row.operation_id,
      correlationId: row.correlation_id,
      verdict: row.verdict,
      taskIds: row.task_ids,
    };
  }
}
