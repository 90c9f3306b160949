import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * What the caldera-bridge remembers across restarts: every Caldera link it published (after the broker's confirm)
 * or skipped as invalid, so that each finished link is sent once.
 */
export class CalderaBridgeSentLink1763800002000 implements MigrationInterface {
  name = 'CalderaBridgeSentLink1763800002000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE caldera_bridge_sent_link (
      link_id text PRIMARY KEY,
      operation_id text NOT NULL,
      sent_at timestamptz NOT NULL DEFAULT now(),
      skipped_reason text
    )`);
    await q.query(`CREATE INDEX caldera_bridge_sent_link_operation_idx ON caldera_bridge_sent_link (operation_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE caldera_bridge_sent_link`);
  }
}
