import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 12's schema: each client's incarnation (tokens name it, so a re-created id does not revive old tokens).
 */
export class SecurityHardening1763800007000 implements MigrationInterface {
  name = 'SecurityHardening1763800007000';

  async up(q: QueryRunner): Promise<void> {
    // existing clients get one too: tokens issued before this migration carry none and are refused (clients log in again)
    await q.query(`ALTER TABLE bus_client ADD COLUMN incarnation uuid NOT NULL DEFAULT gen_random_uuid()`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE bus_client DROP COLUMN incarnation`);
  }
}
