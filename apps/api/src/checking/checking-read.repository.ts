import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

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

/** Read-only SQL over the checking engine's tables; the query API never touches the broker. */
@Injectable()
export class CheckingReadRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async listOperations(limit: number, offset: number): Promise<{ items: Array<OperationRow & CoverageSummary>; total: number }> {
    const rows: Array<OperationRow & SummaryRow> = await this.db.query(
      `SELECT o.caldera_operation_id AS operation_id, o.name, o.created_at AS first_seen,
              max(e.executed_at) AS last_execution_at, ${SUMMARY_COLUMNS}
         FROM operation o LEFT JOIN execution e ON e.operation_id = o.id ${QUALITY_JOIN}
        GROUP BY o.id ORDER BY o.created_at DESC LIMIT $1 OFFSET $2`,
      [limit, offset],
    );
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total FROM operation`);
    return { items: rows.map((r) => ({ ...operationOf(r), ...toSummary(r) })), total };
  }

  async findOperation(operationId: string): Promise<(OperationRow & CoverageSummary) | null> {
    const [row]: Array<OperationRow & SummaryRow> = await this.db.query(
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
      await this.db.query(
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
    const items: ExecutionRow[] = await this.db.query(
      `SELECT ${EXECUTION_COLUMNS} ${from} ORDER BY e.executed_at DESC, e.id LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    );
    const [{ total }] = await this.db.query(`SELECT count(*)::int AS total ${from}`, params);
    return { items: items.map(fixLatency), total };
  }

  async findExecution(id: string): Promise<ExecutionRow | null> {
    const [row]: ExecutionRow[] = await this.db.query(
      `SELECT ${EXECUTION_COLUMNS} FROM execution e JOIN operation o ON o.id = e.operation_id WHERE e.id = $1`,
      [id],
    );
    return row ? fixLatency(row) : null;
  }

  /** Each task with its latest result (the answer to its latest attempt). */
  tasksOf(executionId: string): Promise<TaskRow[]> {
    return this.db.query(
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

  /** Every execution of an operation, oldest first (for the CSV export). */
  async executionsOfOperation(operationId: string): Promise<ExecutionRow[]> {
    const rows: ExecutionRow[] = await this.db.query(
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
