import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The bus's idempotency keys: per client, the first answer to a send or notify made with an `Idempotency-Key`, so a
 * retry on any api replica, after any restart, gets the same message_id and publishes nothing new. `published` is
 * false while the first publish is unconfirmed (or failed): a retry then publishes again under the same message_id.
 */
export class BusIdempotencyKey1763800005000 implements MigrationInterface {
  name = 'BusIdempotencyKey1763800005000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE bus_idempotency_key (
      client_id text NOT NULL REFERENCES bus_client (client_id) ON DELETE CASCADE,
      idempotency_key text NOT NULL,
      request_fingerprint text NOT NULL,
      message_id uuid NOT NULL,
      published boolean NOT NULL DEFAULT false,
      created_at timestamptz NOT NULL DEFAULT now(),
      PRIMARY KEY (client_id, idempotency_key)
    )`);
    await q.query(`CREATE INDEX bus_idempotency_key_created_at_idx ON bus_idempotency_key (created_at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE bus_idempotency_key`);
  }
}
