import { Injectable, ServiceUnavailableException } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';

/** The only reads and writes of bus_delivered_message. */
@Injectable()
export class DeliveredMessageRepository {
  constructor(@InjectDataSource() private readonly dataSource: DataSource) {}

  /** Which of `messageIds` the client was handed within the last `windowHours`. */
  async findDelivered(clientId: string, messageIds: string[], windowHours: number): Promise<Set<string>> {
    if (messageIds.length === 0) return new Set();
    const rows = (await this.db().query(
      `SELECT message_id FROM bus_delivered_message
       WHERE client_id = $1 AND message_id = ANY($2) AND delivered_at >= now() - make_interval(hours => $3)`,
      [clientId, messageIds, windowHours],
    )) as Array<{ message_id: string }>;
    return new Set(rows.map((r) => r.message_id));
  }

  async recordDelivered(clientId: string, messageIds: string[]): Promise<void> {
    if (messageIds.length === 0) return;
    await this.db().query(
      `INSERT INTO bus_delivered_message (client_id, message_id) SELECT $1, unnest($2::text[])
       ON CONFLICT (client_id, message_id) DO UPDATE SET delivered_at = now()`,
      [clientId, messageIds],
    );
  }

  async deleteExpired(windowHours: number): Promise<void> {
    await this.db().query(`DELETE FROM bus_delivered_message WHERE delivered_at < now() - make_interval(hours => $1)`, [windowHours]);
  }

  private db(): DataSource {
    if (!this.dataSource.isInitialized) throw new ServiceUnavailableException('the database is not available yet');
    return this.dataSource;
  }
}
