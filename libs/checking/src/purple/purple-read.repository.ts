import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DetectionAction, MatchQuality, ResponseStatus } from '@purple/contracts';
import { DataSource } from 'typeorm';

/** One task of an execution with the answer that counts for it: a detection on any attempt, else its latest answer. */
export interface ExecutionTaskRow {
  execution_id: string;
  technique_id: string | null;
  technique_name: string | null;
  agent_host: string;
  command: string;
  verdict: string;
  detection_latency_ms: string | null;
  executed_at: Date;
  late_detection: boolean;
  task_id: string | null;
  connector: string | null;
  task_status: string | null;
  is_recheck: boolean | null;
  attempt: number | null;
  status: ResponseStatus | null;
  action: DetectionAction | null;
  match_quality: MatchQuality | null;
  late: boolean | null;
  evidence: unknown[] | null;
  matched_event_at: Date | null;
  result_at: Date | null;
}

export interface VerdictChangeRow {
  from_verdict: string;
  to_verdict: string;
  late: boolean;
  detection_latency_ms: string | null;
  changed_at: Date;
}

export interface IngestionDelayRow {
  source: string;
  samples: number;
  p50_ms: number;
  p90_ms: number;
}

const TASK_ROWS = `
  SELECT e.id AS execution_id, e.technique_id, e.technique_name, e.agent_host, e.command, e.verdict, e.detection_latency_ms,
         e.executed_at, e.late_detection, t.id AS task_id, t.connector, t.status AS task_status,
         t.recheck_of IS NOT NULL AS is_recheck, r.attempt, r.status, r.action, r.match_quality, r.late, r.evidence,
         r.matched_event_at, r.result_at
    FROM execution e
    JOIN operation o ON o.id = e.operation_id
    LEFT JOIN detection_task t ON t.execution_id = e.id
    LEFT JOIN LATERAL (SELECT * FROM detection_result r WHERE r.task_id = t.id
                        ORDER BY (r.status = 'detected') DESC, r.attempt DESC LIMIT 1) r ON true`;

/** Read-only SQL for the purple-team views: per-source outcomes, history, comparisons, time to detect. */
@Injectable()
export class PurpleReadRepository {
  constructor(@InjectDataSource() private readonly db: DataSource) {}

  async operationExists(operationId: string): Promise<boolean> {
    const rows = await this.db.query(`SELECT 1 FROM operation WHERE caldera_operation_id = $1`, [operationId]);
    return rows.length > 0;
  }

  /** Every execution of an operation with its tasks (one row per task; an execution without tasks has one row). */
  operationTaskRows(operationId: string): Promise<ExecutionTaskRow[]> {
    return this.db.query(`${TASK_ROWS} WHERE o.caldera_operation_id = $1 ORDER BY e.executed_at, e.id, t.created_at, t.id`, [operationId]);
  }

  executionTaskRows(executionId: string): Promise<ExecutionTaskRow[]> {
    return this.db.query(`${TASK_ROWS} WHERE e.id = $1 ORDER BY t.created_at, t.id`, [executionId]);
  }

  /** Detected tasks, newest first, optionally of one operation: the samples of time to detect. */
  detectedTaskRows(operationId: string | undefined, limit: number): Promise<ExecutionTaskRow[]> {
    return operationId === undefined
      ? this.db.query(`${TASK_ROWS} WHERE r.status = 'detected' ORDER BY r.result_at DESC LIMIT $1`, [limit])
      : this.db.query(`${TASK_ROWS} WHERE r.status = 'detected' AND o.caldera_operation_id = $1 ORDER BY r.result_at DESC LIMIT $2`, [
          operationId,
          limit,
        ]);
  }

  verdictHistory(executionId: string): Promise<VerdictChangeRow[]> {
    return this.db.query(
      `SELECT from_verdict, to_verdict, late, detection_latency_ms, changed_at FROM execution_verdict_change WHERE execution_id = $1 ORDER BY id`,
      [executionId],
    );
  }

  /** Every result of an execution's tasks, in the order they were stored. */
  resultsOf(executionId: string): Promise<Array<Record<string, unknown>>> {
    return this.db.query(
      `SELECT r.task_id, t.connector, t.recheck_of, r.attempt, r.status, r.match_quality, r.action, r.late, r.events_found,
              r.matched_event_at, r.result_at, r.received_at, r.ingestion_delay_ms::float8 AS ingestion_delay_ms
         FROM detection_result r JOIN detection_task t ON t.id = r.task_id
        WHERE t.execution_id = $1 ORDER BY r.received_at, r.id`,
      [executionId],
    );
  }

  /** Each source's ingestion delay (match time minus event time) over its latest detections: what the dispatcher learns. */
  async ingestionDelays(sampleSize: number): Promise<IngestionDelayRow[]> {
    const rows: Array<{ source: string; samples: number; p50: number; p90: number }> = await this.db.query(
      `SELECT connector AS source, count(*)::int AS samples,
              percentile_cont(0.5) WITHIN GROUP (ORDER BY ingestion_delay_ms) AS p50,
              percentile_cont(0.9) WITHIN GROUP (ORDER BY ingestion_delay_ms) AS p90
         FROM (SELECT t.connector, r.ingestion_delay_ms,
                      row_number() OVER (PARTITION BY t.connector ORDER BY r.received_at DESC) AS n
                 FROM detection_result r JOIN detection_task t ON t.id = r.task_id
                WHERE r.ingestion_delay_ms IS NOT NULL) latest
        WHERE n <= $1 GROUP BY connector ORDER BY connector`,
      [sampleSize],
    );
    return rows.map((r) => ({ source: r.source, samples: r.samples, p50_ms: Math.round(Number(r.p50)), p90_ms: Math.round(Number(r.p90)) }));
  }
}
