import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Wake-ups and the records the pipeline and the bus need:
 * - `detection_task_pending`: NOTIFY when a task becomes pending (the dispatcher LISTENs; a sweep is the backstop);
 * - `bus_client_changed`: NOTIFY with the client id when a client is created, changed or deleted (the router reloads);
 * - `dead_letter`: every dead-lettered checking-engine message, with its reason, listable and replayable;
 * - the webhook signing secret, encrypted at rest (it must be recoverable to sign, unlike the client secret).
 */
export class PipelineAndBackbone1763800001000 implements MigrationInterface {
  name = 'PipelineAndBackbone1763800001000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE FUNCTION notify_detection_task_pending() RETURNS trigger AS $$
      BEGIN
        IF NEW.status = 'pending' AND (TG_OP = 'INSERT' OR OLD.status IS DISTINCT FROM 'pending') THEN
          PERFORM pg_notify('detection_task_pending', NEW.id::text);
        END IF;
        RETURN NEW;
      END $$ LANGUAGE plpgsql`);
    await q.query(`CREATE TRIGGER detection_task_pending_notify AFTER INSERT OR UPDATE OF status ON detection_task
      FOR EACH ROW EXECUTE FUNCTION notify_detection_task_pending()`);

    await q.query(`CREATE FUNCTION notify_bus_client_changed() RETURNS trigger AS $$
      BEGIN
        PERFORM pg_notify('bus_client_changed', COALESCE(NEW.client_id, OLD.client_id));
        RETURN NULL;
      END $$ LANGUAGE plpgsql`);
    await q.query(`CREATE TRIGGER bus_client_changed_notify AFTER INSERT OR UPDATE OR DELETE ON bus_client
      FOR EACH ROW EXECUTE FUNCTION notify_bus_client_changed()`);

    await q.query(`ALTER TABLE bus_client ADD COLUMN webhook_secret_ciphertext text`);

    await q.query(`CREATE TABLE dead_letter (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      queue text NOT NULL,
      reason text NOT NULL,
      message_id text,
      correlation_id text,
      routing_key text,
      headers jsonb NOT NULL DEFAULT '{}'::jsonb,
      body bytea NOT NULL,
      dead_lettered_at timestamptz NOT NULL DEFAULT now(),
      replayed_at timestamptz,
      replay_outcome text
    )`);
    await q.query(`CREATE INDEX dead_letter_queue_time_idx ON dead_letter (queue, dead_lettered_at DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE dead_letter`);
    await q.query(`ALTER TABLE bus_client DROP COLUMN webhook_secret_ciphertext`);
    await q.query(`DROP TRIGGER bus_client_changed_notify ON bus_client`);
    await q.query(`DROP FUNCTION notify_bus_client_changed()`);
    await q.query(`DROP TRIGGER detection_task_pending_notify ON detection_task`);
    await q.query(`DROP FUNCTION notify_detection_task_pending()`);
  }
}
