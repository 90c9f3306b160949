import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** What a client's idempotency key stands for: the first request made with it, and its message id. */
export interface IdempotencyRecord {
  requestFingerprint: string;
  messageId: string;
  /** the broker confirmed the message: a retry answers without publishing */
  published: boolean;
}

/** The only reads and writes of bus_idempotency_key. */
@Injectable()
export class IdempotencyKeyRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /**
   * Locks the key's record, creating it from `fresh` when there is none or it is older than the window, and runs
   * `whileLocked` with it: concurrent requests with one key (on any replica) run one after the other. The record is
   * committed whatever `whileLocked` does, so a publish that failed leaves its message id for the retry to reuse;
   * `whileLocked` answering true marks it published.
   */
  async withLockedKey<T>(
    clientId: string,
    key: string,
    fresh: { requestFingerprint: string; messageId: string },
    windowHours: number,
    whileLocked: (record: IdempotencyRecord) => Promise<{ result: T; published: boolean }>,
  ): Promise<T> {
    let failure: { error: unknown } | undefined;
    const result = await this.db().transaction(async (manager) => {
      // on a conflict the row is locked even when the WHERE keeps it as it is
      await manager.query(
        `INSERT INTO bus_idempotency_key (client_id, idempotency_key, request_fingerprint, message_id)
         VALUES ($1, $2, $3, $4)
         ON CONFLICT (client_id, idempotency_key) DO UPDATE
           SET request_fingerprint = EXCLUDED.request_fingerprint, message_id = EXCLUDED.message_id, published = false, created_at = now()
           WHERE bus_idempotency_key.created_at < now() - make_interval(hours => $5)`,
        [clientId, key, fresh.requestFingerprint, fresh.messageId, windowHours],
      );
      const [row] = (await manager.query(
        `SELECT request_fingerprint, message_id, published FROM bus_idempotency_key WHERE client_id = $1 AND idempotency_key = $2 FOR UPDATE`,
        [clientId, key],
      )) as Array<{ request_fingerprint: string; message_id: string; published: boolean }>;
      const record: IdempotencyRecord = { requestFingerprint: row.request_fingerprint, messageId: row.message_id, published: row.published };
      try {
        const outcome = await whileLocked(record);
        if (outcome.published && !record.published) {
          await manager.query(`UPDATE bus_idempotency_key SET published = true WHERE client_id = $1 AND idempotency_key = $2`, [clientId, key]);
        }
        return outcome.result;
      } catch (error) {
        failure = { error };
        return undefined;
      }
    });
    if (failure) throw failure.error;
    return result as T;
  }

  /** Forgets keys older than the window. */
  async deleteExpired(windowHours: number): Promise<void> {
    await this.db().query(`DELETE FROM bus_idempotency_key WHERE created_at < now() - make_interval(hours => $1)`, [windowHours]);
  }

  private db(): DataSource {
    if (!this.dataSource.isInitialized) throw new ServiceUnavailableException('the database is not available yet');
    return this.dataSource;
  }
}
