import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { ExecutionVerdict } from '@purple/contracts';
import { DataSource, EntityManager } from 'typeorm';
import { inTransaction, withoutNul } from '../database';
import { markerFor } from '../purple/marker';
import { isFinalVerdict } from '../verdict/decide-verdict';
import { PlannedTask } from '../ingest/plan-tasks';

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
  verdict: ExecutionVerdict;
  tasks: PlannedTask[];
}

export interface StoredExecution {
  /** false: an execution with the same dedupe key already existed, and nothing was written */
  created: boolean;
  executionId: string;
  operationId: string;
  /** the existing execution's correlation id for a duplicate */
  correlationId: string;
  verdict: ExecutionVerdict;
  taskIds: string[];
}

/** Detection counts and latency for a set of executions (an operation, or one technique in it). */
export interface CoverageSummary {
  executions: number;
  detected: number;
  not_detected: number;
  errors: number;
  pending: number;
  no_detections: number;
  no_usable_detections: number;
  /** detected ÷ (detected + not detected); null before anything was decided */
  detection_rate: number | null;
  detection_latency_p50_ms: number | null;
  detection_latency_p95_ms: number | null;
  /** detected executions by their best match: the marker found, the host only, anything looser */
  detected_exact: number;
  detected_scoped: number;
  detected_heuristic: number;
  /** exact-only detection rate: detected with the marker ÷ (detected + not detected) */
  detection_rate_exact: number | null;
  /** detected after a not_detected (or error) verdict */
  late_detections: number;
  /** detected only by a re-check */
  recheck_only_detections: number;
}

export interface TechniqueSummary extends CoverageSummary {
  technique_id: string | null;
  technique_name: string | null;
  tactic: string | null;
}

export interface OperationRow {
  operation_id: string;
  name: string | null;
  first_seen: Date;
  last_execution_at: Date | null;
}

export interface ExecutionFilter {
  operationId?: string;
  host?: string;
  paw?: string;
  verdict?: string;
  from?: Date;
  to?: Date;
  limit: number;
  offset: number;
}

export interface ExecutionRow {
  id: string;
  operation_id: string;
  caldera_link_id: string | null;
  agent_host: string;
  agent_paw: string;
  command: string;
  executed_at: Date;
  tactic: string | null;
  technique_id: string | null;
  technique_name: string | null;
  verdict: string;
  detection_latency_ms: number | null;
  verdict_at: Date | null;
  correlation_id: string;
  marker: string;
  late_detection: boolean;
}

/** Sums verdicts and latency percentiles; shared by the operation and per-technique summaries. */
const SUMMARY_COLUMNS = `
  count(e.id)::int AS executions,
  count(*) FILTER (WHERE e.verdict = 'detected')::int AS detected,
  count(*) FILTER (WHERE e.verdict = 'not_detected')::int AS not_detected,
  count(*) FILTER (WHERE e.verdict = 'error')::int AS errors,
  count(*) FILTER (WHERE e.verdict IN ('pending', 'checking'))::int AS pending,
  count(*) FILTER (WHERE e.verdict = 'no_detections')::int AS no_detections,
  count(*) FILTER (WHERE e.verdict = 'no_usable_detections')::int AS no_usable_detections,
  percentile_cont(0.5) WITHIN GROUP (ORDER BY e.detection_latency_ms) FILTER (WHERE e.verdict = 'detected') AS p50,
  percentile_cont(0.95) WITHIN GROUP (ORDER BY e.detection_latency_ms) FILTER (WHERE e.verdict = 'detected') AS p95,
  count(*) FILTER (WHERE e.verdict = 'detected' AND q.best = 0)::int AS detected_exact,
  count(*) FILTER (WHERE e.verdict = 'detected' AND q.best = 1)::int AS detected_scoped,
  count(*) FILTER (WHERE e.verdict = 'detected' AND (q.best = 2 OR q.best IS NULL))::int AS detected_heuristic,
  count(*) FILTER (WHERE e.verdict = 'detected' AND e.late_detection)::int AS late_detections,
  count(*) FILTER (WHERE e.verdict = 'detected' AND q.recheck_only)::int AS recheck_only_detections`;

/** Per execution: its best match quality (0 exact, 1 scoped, 2 heuristic) and whether only re-checks detected it. */
const QUALITY_JOIN = `LEFT JOIN LATERAL (
  SELECT min(CASE r.match_quality WHEN 'exact' THEN 0 WHEN 'scoped' THEN 1 ELSE 2 END) AS best,
         bool_and(t.recheck_of IS NOT NULL) AS recheck_only
    FROM detection_task t JOIN detection_result r ON r.task_id = t.id
   WHERE t.execution_id = e.id AND r.status = 'detected') q ON true`;

type SummaryRow = Omit<CoverageSummary, 'detection_rate' | 'detection_latency_p50_ms' | 'detection_latency_p95_ms' | 'detection_rate_exact'> & {
  p50: number | null;
  p95: number | null;
};

function toSummary(row: SummaryRow): CoverageSummary {
  const decided = row.detected + row.not_detected;
  const round = (v: number | null) => (v === null ? null : Math.round(Number(v)));
  return {
    executions: row.executions,
    detected: row.detected,
    not_detected: row.not_detected,
    errors: row.errors,
    pending: row.pending,
    no_detections: row.no_detections,
    no_usable_detections: row.no_usable_detections,
    detection_rate: decided === 0 ? null : row.detected / decided,
    detection_latency_p50_ms: round(row.p50),
    detection_latency_p95_ms: round(row.p95),
    detected_exact: row.detected_exact,
    detected_scoped: row.detected_scoped,
    detected_heuristic: row.detected_heuristic,
    detection_rate_exact: decided === 0 ? null : row.detected_exact / decided,
    late_detections: row.late_detections,
    recheck_only_detections: row.recheck_only_detections,
  };
}

/**
 * Executions and their operations: writes an execution with its operation and its tasks, and the read queries the
 * API shows them with (the query API never touches the broker).
 */
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
                 CASE WHEN $15::boolean THEN now() END, $14)
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
          // verdict_at: when the verdict became final (a verdict final at once is final now)
          isFinalVerdict(clean.verdict),
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
    )) as Array<{ id: string; operation_id: string; correlation_id: string; verdict: ExecutionVerdict; task_ids: string[] }>;
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


  async listOperations(limit: number, offset: number): Promise<{ items: Array<OperationRow & CoverageSummary>; total: number }> {
    const rows: Array<OperationRow & SummaryRow> = await this.dataSource.query(
      `SELECT o.caldera_operation_id AS operation_id, o.name, o.created_at AS first_seen,
              max(e.executed_at) AS last_execution_at, ${SUMMARY_COLUMNS}
         FROM operation o LEFT JOIN execution e ON e.operation_id = o.id ${QUALITY_JOIN}
        GROUP BY o.id ORDER BY o.created_at DESC LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    const [{ total }] = await this.dataSource.query(`SELECT count(*)::int AS total FROM operation`);
    return { items: rows.map((r) => ({ ...operationOf(r), ...toSummary(r) })), total };
  }

  async findOperation(operationId: string): Promise<(OperationRow & CoverageSummary) | null> {
    const [row]: Array<OperationRow & SummaryRow> = await this.dataSource.query(
      `SELECT o.caldera_operation_id AS operation_id, o.name, o.created_at AS first_seen,
              max(e.executed_at) AS last_execution_at, ${SUMMARY_COLUMNS}
         FROM operation o LEFT JOIN execution e ON e.operation_id = o.id ${QUALITY_JOIN}
        WHERE o.caldera_operation_id = $1 GROUP BY o.id`,
      [operationId],
    );
    return row ? { ...operationOf(row), ...toSummary(row) } : null;
  }

  async techniqueSummaries(operationId: string): Promise<TechniqueSummary[]> {
    const rows: Array<SummaryRow & { technique_id: string | null; technique_name: string | null; tactic: string | null }> =
      await this.dataSource.query(
        `SELECT e.technique_id, max(e.technique_name) AS technique_name, max(e.tactic) AS tactic, ${SUMMARY_COLUMNS}
           FROM execution e JOIN operation o ON o.id = e.operation_id ${QUALITY_JOIN}
          WHERE o.caldera_operation_id = $1
          GROUP BY e.technique_id ORDER BY e.technique_id NULLS LAST`,
        [operationId],
      );
    return rows.map((r) => ({ technique_id: r.technique_id, technique_name: r.technique_name, tactic: r.tactic, ...toSummary(r) }));
  }

  async listExecutions(filter: ExecutionFilter): Promise<{ items: ExecutionRow[]; total: number }> {
    const where: string[] = [];
    const params: unknown[] = [];
    const add = (sql: string, value: unknown) => {
      params.push(value);
      where.push(sql.replace('?', `$${params.length}`));
    };
    if (filter.operationId !== undefined) add('o.caldera_operation_id = ?', filter.operationId);
    if (filter.host !== undefined) add('e.agent_host = ?', filter.host);
    if (filter.paw !== undefined) add('e.agent_paw = ?', filter.paw);
    if (filter.verdict !== undefined) add('e.verdict = ?', filter.verdict);
    if (filter.from !== undefined) add('e.executed_at >= ?', filter.from);
    if (filter.to !== undefined) add('e.executed_at < ?', filter.to);
    const whereSql = where.length ? `WHERE ${where.join(' AND ')}` : '';
    const from = `FROM execution e JOIN operation o ON o.id = e.operation_id ${whereSql}`;
    const items: ExecutionRow[] = await this.dataSource.query(
      `SELECT ${EXECUTION_COLUMNS} ${from} ORDER BY e.executed_at DESC, e.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    );
    const [{ total }] = await this.dataSource.query(`SELECT count(*)::int AS total ${from}`, params);
    return { items: items.map(fixLatency), total };
  }

  async findExecution(id: string): Promise<ExecutionRow | null> {
    const [row]: ExecutionRow[] = await this.dataSource.query(
      `SELECT ${EXECUTION_COLUMNS} FROM execution e JOIN operation o ON o.id = e.operation_id WHERE e.id = $1`,
      [id],
    );
    return row ? fixLatency(row) : null;
  }

  /** Every execution of an operation, oldest first (for the CSV export). */
  async executionsOfOperation(operationId: string): Promise<ExecutionRow[]> {
    const rows: ExecutionRow[] = await this.dataSource.query(
      `SELECT ${EXECUTION_COLUMNS} FROM execution e JOIN operation o ON o.id = e.operation_id
        WHERE o.caldera_operation_id = $1 ORDER BY e.executed_at, e.id`,
      [operationId],
    );
    return rows.map(fixLatency);
  }
}

const EXECUTION_COLUMNS = `e.id, o.caldera_operation_id AS operation_id, e.caldera_link_id, e.agent_host, e.agent_paw, e.command,
  e.executed_at, e.tactic, e.technique_id, e.technique_name, e.verdict, e.detection_latency_ms, e.verdict_at, e.correlation_id, e.marker, e.late_detection`;

/** bigint arrives as a string from node-postgres */
const fixLatency = (row: ExecutionRow): ExecutionRow => ({
  ...row,
  detection_latency_ms: row.detection_latency_ms === null ? null : Number(row.detection_latency_ms),
});

const operationOf = (r: OperationRow): OperationRow => ({
  operation_id: r.operation_id,
  name: r.name,
  first_seen: r.first_seen,
  last_execution_at: r.last_execution_at,
});
