import { MigrationInterface, QueryRunner } from 'typeorm';

export class InitialSchema1763800000000 implements MigrationInterface {
  name = 'InitialSchema1763800000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`CREATE TABLE operation (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      caldera_operation_id text NOT NULL UNIQUE,
      name text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE TABLE execution (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      operation_id uuid NOT NULL REFERENCES operation(id) ON DELETE CASCADE,
      dedupe_key text NOT NULL UNIQUE,
      caldera_link_id text,
      agent_host text NOT NULL,
      agent_paw text NOT NULL,
      command text NOT NULL,
      result jsonb NOT NULL,
      executed_at timestamptz NOT NULL,
      tactic text,
      technique_id text,
      technique_name text,
      correlation_id text NOT NULL,
      verdict text NOT NULL DEFAULT 'pending'
        CHECK (verdict IN ('pending','checking','detected','not_detected','error','no_detections')),
      detection_latency_ms bigint,
      verdict_at timestamptz,
      created_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX execution_operation_time_idx ON execution (operation_id, executed_at)`);
    await q.query(`CREATE TABLE detection_task (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      execution_id uuid NOT NULL REFERENCES execution(id) ON DELETE CASCADE,
      detection_type text NOT NULL CHECK (detection_type IN ('api','agent')),
      platform text NOT NULL,
      connector text NOT NULL,
      query text NOT NULL,
      config jsonb NOT NULL DEFAULT '{}'::jsonb,
      priority text NOT NULL DEFAULT 'medium' CHECK (priority IN ('high','medium','low')),
      timeout_seconds int NOT NULL DEFAULT 30,
      status text NOT NULL DEFAULT 'pending'
        CHECK (status IN ('pending','dispatched','completed','failed','timed_out')),
      attempts int NOT NULL DEFAULT 0,
      max_attempts int NOT NULL DEFAULT 3,
      deadline_at timestamptz,
      dispatched_at timestamptz,
      completed_at timestamptz,
      last_error text,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
    await q.query(`CREATE INDEX detection_task_status_idx ON detection_task (status, deadline_at)`);
    await q.query(`CREATE INDEX detection_task_execution_idx ON detection_task (execution_id)`);
    await q.query(`CREATE TABLE detection_result (
      id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
      task_id uuid NOT NULL REFERENCES detection_task(id) ON DELETE CASCADE,
      attempt int NOT NULL,
      detection_id text NOT NULL,
      status text NOT NULL CHECK (status IN ('detected','not_detected','unsupported','error')),
      detected boolean NOT NULL,
      confidence double precision,
      events_found int NOT NULL DEFAULT 0,
      evidence jsonb NOT NULL DEFAULT '[]'::jsonb,
      error text,
      matched_event_at timestamptz,
      result_at timestamptz NOT NULL,
      worker_id text,
      response jsonb NOT NULL,
      received_at timestamptz NOT NULL DEFAULT now(),
      CONSTRAINT detection_result_task_attempt_uq UNIQUE (task_id, attempt)
    )`);
    await q.query(`CREATE TABLE bus_client (
      client_id text PRIMARY KEY CHECK (client_id ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
      client_name text NOT NULL,
      subscription text NOT NULL,
      webhook_url text,
      webhook_enabled boolean NOT NULL DEFAULT true,
      secret_hash text NOT NULL,
      scopes text NOT NULL DEFAULT 'bus',
      token_version int NOT NULL DEFAULT 1,
      created_at timestamptz NOT NULL DEFAULT now(),
      updated_at timestamptz NOT NULL DEFAULT now()
    )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE bus_client`);
    await q.query(`DROP TABLE detection_result`);
    await q.query(`DROP TABLE detection_task`);
    await q.query(`DROP TABLE execution`);
    await q.query(`DROP TABLE operation`);
  }
}
