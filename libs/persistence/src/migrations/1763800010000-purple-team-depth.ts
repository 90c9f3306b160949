import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Issue 15, verdicts a purple team can act on:
 * - each execution's marker (the `{{marker}}` placeholder: Caldera's link id, else generated once), and a late flag;
 * - each result's match quality, what the source did (blocked or alerted), whether it came late, and the
 *   source's ingestion delay (match time minus event time) the dispatcher learns initial delays from;
 * - re-check tasks (one more search later, `recheck_of` the task they re-check, not sent before `not_before`), and
 *   the initial delay each task was sent with and where it came from;
 * - every verdict change of an execution, kept (`execution_verdict_change`).
 */
export class PurpleTeamDepth1763800010000 implements MigrationInterface {
  name = 'PurpleTeamDepth1763800010000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE execution
      ADD COLUMN marker text,
      ADD COLUMN late_detection boolean NOT NULL DEFAULT false`);
    // what the workers used as the marker so far
    await q.query(`UPDATE execution SET marker = COALESCE(caldera_link_id, id::text)`);
    // ingest sets it (markerFor); a row written any other way still gets one, generated once
    await q.query(`ALTER TABLE execution
      ALTER COLUMN marker SET DEFAULT ('pm-' || substr(md5(random()::text || clock_timestamp()::text), 1, 12)),
      ALTER COLUMN marker SET NOT NULL`);
    await q.query(`ALTER TABLE detection_task
      ADD COLUMN recheck_of uuid REFERENCES detection_task(id) ON DELETE CASCADE,
      ADD COLUMN not_before timestamptz,
      ADD COLUMN initial_delay_seconds int,
      ADD COLUMN initial_delay_source text CHECK (initial_delay_source IN ('ability','learned','default'))`);
    await q.query(`CREATE UNIQUE INDEX detection_task_recheck_uq ON detection_task (recheck_of) WHERE recheck_of IS NOT NULL`);
    await q.query(`ALTER TABLE detection_result
      ADD COLUMN match_quality text CHECK (match_quality IN ('exact','scoped','heuristic')),
      ADD COLUMN action text CHECK (action IN ('blocked','alerted')),
      ADD COLUMN late boolean NOT NULL DEFAULT false,
      ADD COLUMN ingestion_delay_ms bigint CHECK (ingestion_delay_ms >= 0)`);
    await q.query(`CREATE INDEX detection_result_ingestion_idx ON detection_result (received_at DESC) WHERE ingestion_delay_ms IS NOT NULL`);
    await q.query(`CREATE TABLE execution_verdict_change (
      id bigserial PRIMARY KEY,
      execution_id uuid NOT NULL REFERENCES execution(id) ON DELETE CASCADE,
      from_verdict text NOT NULL,
      to_verdict text NOT NULL,
      late boolean NOT NULL DEFAULT false,
      detection_latency_ms bigint,
      changed_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await q.query(`CREATE INDEX execution_verdict_change_execution_idx ON execution_verdict_change (execution_id, id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE execution_verdict_change`);
    await q.query(`ALTER TABLE detection_result DROP COLUMN match_quality, DROP COLUMN action, DROP COLUMN late, DROP COLUMN ingestion_delay_ms`);
    await q.query(`DELETE FROM detection_task WHERE recheck_of IS NOT NULL`);
    await q.query(`ALTER TABLE detection_task DROP COLUMN recheck_of, DROP COLUMN not_before, DROP COLUMN initial_delay_seconds, DROP COLUMN initial_delay_source`);
    await q.query(`ALTER TABLE execution DROP COLUMN marker, DROP COLUMN late_detection`);
  }
}
