import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 12's schema: each client's incarnation (tokens name it, so a re-created id does not revive old tokens);
 * who replayed a dead letter and who edited its body; failed logins, counted across api replicas.
 */
export class SecurityHardening1763800007000 implements MigrationInterface {
  name = 'SecurityHardening1763800007000';

  async up(q: QueryRunner): Promise<void> {
    // existing clients get one too: tokens issued before this migration carry none and are refused (clients log in again)
    await q.query(`ALTER TABLE bus_client ADD COLUMN incarnation uuid NOT NULL DEFAULT gen_random_uuid()`);
    // who replayed a checking dead letter, and who replaced its body (the audit of an edit)
    await q.query(`ALTER TABLE dead_letter ADD COLUMN replayed_by text, ADD COLUMN body_edited_by text`);
    // failed logins, shared by the api replicas; only one window's worth is kept
    await q.query(`CREATE TABLE login_failure (
      id bigserial PRIMARY KEY,
      kind text NOT NULL CHECK (kind IN ('client', 'address')),
      key text NOT NULL,
      at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX login_failure_key_idx ON login_failure (kind, key, at)`);
    await q.query(`CREATE INDEX login_failure_at_idx ON login_failure (at)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE login_failure`);
    await q.query(`ALTER TABLE dead_letter DROP COLUMN replayed_by, DROP COLUMN body_edited_by`);
    await q.query(`ALTER TABLE bus_client DROP COLUMN incarnation`);
  }
}
