import { Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { connected, inTransaction } from '../database';
import { NewDeadLetter } from './dead-letter-of';

/** A dead letter without its body, which may be megabytes: the list shows its size and a preview. */
export interface DeadLetterSummary extends Omit<NewDeadLetter, 'body'> {
  id: string;
  deadLetteredAt: Date;
  replayedAt: Date | null;
  replayOutcome: string | null;
  /** the client that replayed it */
  replayedBy: string | null;
  /** the client that replayed it with a body of its own instead of the stored one; null when replayed as stored */
  bodyEditedBy: string | null;
  bodyBytes: number;
  /** the start of the body as UTF-8 text */
  bodyPreview: string;
}

export interface DeadLetter extends DeadLetterSummary {
  body: Buffer;
}

export interface DeadLetterFilter {
  queue?: string;
  /** true: only replayed ones; false: only those still waiting */
  replayed?: boolean;
  limit: number;
  offset: number;
}

export const BODY_PREVIEW_BYTES = 2048;

interface DeadLetterRow {
  id: string;
  queue: string;
  reason: string;
  message_id: string | null;
  correlation_id: string | null;
  routing_key: string | null;
  headers: Record<string, unknown>;
  dead_lettered_at: Date;
  replayed_at: Date | null;
  replay_outcome: string | null;
  replayed_by: string | null;
  body_edited_by: string | null;
  body_bytes: number;
  body_preview: Buffer;
}

const SUMMARY_COLUMNS = `id, queue, reason, message_id, correlation_id, routing_key, headers, dead_lettered_at,
  replayed_at, replay_outcome, replayed_by, body_edited_by, octet_length(body) AS body_bytes, substring(body FROM 1 FOR ${BODY_PREVIEW_BYTES}) AS body_preview`;

@Injectable()
export class DeadLetterRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Stores a dead letter; returns its id, or null when an identical one (same queue, reason, message id and body)
   * is already stored and not yet replayed: a redelivery, also one that overlaps the first delivery still being
   * recorded when its channel closed. Serialised per message, so two deliveries cannot both find none.
   */
  async insert(deadLetter: NewDeadLetter): Promise<string | null> {
    const d = deadLetter;
    return inTransaction(this.dataSource, async (manager) => {
      await manager.query(`SELECT pg_advisory_xact_lock(hashtext($1), hashtext(coalesce($2, '')))`, [d.queue, d.messageId]);
      const rows = (await manager.query(
        `INSERT INTO dead_letter (queue, reason, message_id, correlation_id, routing_key, headers, body)
         SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::jsonb, $7::bytea
          WHERE NOT EXISTS (
                SELECT 1 FROM dead_letter
                 WHERE queue = $1 AND reason = $2 AND message_id IS NOT DISTINCT FROM $3 AND body = $7 AND replayed_at IS NULL)
         RETURNING id`,
        [d.queue, d.reason, d.messageId, d.correlationId, d.routingKey, JSON.stringify(d.headers), d.body],
      )) as Array<{ id: string }>;
      return rows[0]?.id ?? null;
    });
  }

  async find(id: string): Promise<DeadLetter | null> {
    const [row] = (await connected(this.dataSource).query(`SELECT ${SUMMARY_COLUMNS}, body FROM dead_letter WHERE id = $1`, [
      id,
    ])) as Array<DeadLetterRow & { body: Buffer }>;
    return row ? { ...summaryOf(row), body: row.body } : null;
  }

  async list(filter: DeadLetterFilter): Promise<{ items: DeadLetterSummary[]; total: number }> {
    const conditions: string[] = [];
    const params: unknown[] = [];
    if (filter.queue !== undefined) {
      params.push(filter.queue);
      conditions.push(`queue = $${params.length}`);
    }
    if (filter.replayed !== undefined) conditions.push(filter.replayed ? 'replayed_at IS NOT NULL' : 'replayed_at IS NULL');
    const where = conditions.length ? `WHERE ${conditions.join(' AND ')}` : '';
    const manager = connected(this.dataSource);
    const [{ total }] = (await manager.query(`SELECT count(*)::int AS total FROM dead_letter ${where}`, params)) as Array<{
      total: number;
    }>;
    const rows = (await manager.query(
      `SELECT ${SUMMARY_COLUMNS} FROM dead_letter ${where}
        ORDER BY dead_lettered_at DESC, id
        LIMIT $${params.length + 1} OFFSET $${params.length + 2}`,
      [...params, filter.limit, filter.offset],
    )) as DeadLetterRow[];
    return { items: rows.map(summaryOf), total };
  }

  /** `by`: who replayed it; `bodyEdited`: whether with a body of their own (kept as the audit of that edit) */
  async markReplayed(id: string, outcome: string, by: string | null = null, bodyEdited = false): Promise<Date> {
    const [row] = (await connected(this.dataSource).query(
      `UPDATE dead_letter SET replayed_at = now(), replay_outcome = $2, replayed_by = $3,
              body_edited_by = CASE WHEN $4::boolean THEN $3 ELSE body_edited_by END
        WHERE id = $1 RETURNING replayed_at`,
      [id, outcome, by, bodyEdited],
    )) as [Array<{ replayed_at: Date }>, number];
    return row[0].replayed_at;
  }
}

function summaryOf(row: DeadLetterRow): DeadLetterSummary {
  return {
    id: row.id,
    queue: row.queue,
    reason: row.reason,
    messageId: row.message_id,
    correlationId: row.correlation_id,
    routingKey: row.routing_key,
    headers: row.headers,
    deadLetteredAt: row.dead_lettered_at,
    replayedAt: row.replayed_at,
    replayOutcome: row.replay_outcome,
    replayedBy: row.replayed_by,
    bodyEditedBy: row.body_edited_by,
    bodyBytes: row.body_bytes,
    // a multi-byte character cut at the end shows as U+FFFD, which is fine for a preview
    bodyPreview: row.body_preview.toString('utf8'),
  };
}
