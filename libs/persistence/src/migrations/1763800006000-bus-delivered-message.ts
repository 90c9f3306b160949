import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The message ids each client has been handed (GET /receive, the WebSocket), so a copy that reaches its inbox again
 * is dropped before the client sees it, whichever api replica reads it. Kept for the dedupe window, then deleted.
 */
export class BusDeliveredMessage1763800006000 implements MigrationInterface {
  name = 'BusDeliveredMessage1763800006000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE bus_delivered_message (
      client_id text NOT NULL REFERENCES bus_client (client_id) ON DELETE CASCADE,
      message_id text NOT NULL,
      delivered_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (client_id, message_id)
    )`);
    await q.query(`CREATE INDEX bus_delivered_message_delivered_at_idx ON bus_delivered_message (delivered_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE bus_delivered_message`);
  }
}
