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
   * committed before `whileLocked` runs, on its own, so whatever happens after a publish (the publish failing, the
   * database going away before the commit) a retry finds the message id and publishes under it again, never under
   * a second one; `whileLocked` answering true marks it published.
   */
  async withLockedKey<T>(
    clientId: string,
    key: string,
    fresh: { requestFingerprint: string; messageId: string },
    windowHours: number,
    whileLocked: (record: IdempotencyRecord) => Promise<{ result: T; published: boolean }>,
  ): Promise<T> {
    await this.db().query(
      `INSERT INTO bus_idempotency_key (client_id, idempotency_key, request_fingerprint, message_id)
       VALUES ($1, $2, $3, $4)
       ON CONFLICT (client_id, idempotency_key) DO UPDATE
         SET request_fingerprint = EXCLUDED.request_fingerprint, message_id = EXCLUDED.message_id, published = false, created_at = now()
         WHERE bus_idempotency_key.created_at < now() - make_interval(hours => $5)`,
      [clientId, key, fresh.requestFingerprint, fresh.messageId, windowHours],
    );
    let failure: { error: unknown } | undefined;
    const result = await this.db().transaction(async (manager) => {
      const [row] = (await manager.query(
        `SELECT request_fingerprint, message_id, published FROM bus_idempotency_key WHERE client_id = $1 AND idempotency_key = $2 FOR UPDATE`,
        [clientId, key],
      )) as Array<{ request_fingerprint: string; message_id: string; published: boolean }>;
      if (!row) throw new ServiceUnavailableException('the idempotency key expired while it was used; try again');
      const record: IdempotencyRecord = { requestFingerprint: row.request_fingerprint, messageId: row.message_id, published: row.published };
      let outcome: { result: T; published: boolean };
      try {
        outcome = await whileLocked(record);
      } catch (error) {
        failure = { error };
        return undefined;
      }
      if (outcome.published && !record.published) {
        await manager.query(`UPDATE bus_idempotency_key SET published = true WHERE client_id = $1 AND idempotency_key = $2`, [clientId, key]);
      }
      return outcome.result;
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
