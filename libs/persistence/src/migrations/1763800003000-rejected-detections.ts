import { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Partial acceptance of Caldera's detections: an unusable detection entry is stored as a task closed at once as
 * `rejected`, with its reason (and no worker pool when even that could not be told); an execution whose entries were
 * all rejected gets the verdict `no_usable_detections`. Agent tasks keep the host OS the producer named.
 */
export class RejectedDetections1763800003000 implements MigrationInterface {
  name = 'RejectedDetections1763800003000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE detection_task
      DROP CONSTRAINT detection_task_status_check,
      DROP CONSTRAINT detection_task_detection_type_check,
      ALTER COLUMN detection_type DROP NOT NULL,
      ADD COLUMN host_os text CHECK (host_os IN ('windows','linux','darwin')),
      ADD COLUMN rejection_reason text,
      ADD CONSTRAINT detection_task_status_check
        CHECK (status IN ('pending','dispatched','completed','failed','timed_out','rejected')),
      ADD CONSTRAINT detection_task_detection_type_check
        CHECK (detection_type IN ('api','agent') OR (detection_type IS NULL AND status = 'rejected')),
      ADD CONSTRAINT detection_task_rejection_reason_check
        CHECK ((status = 'rejected') = (rejection_reason IS NOT NULL))`);
    await q.query(`ALTER TABLE execution
      DROP CONSTRAINT execution_verdict_check,
      ADD CONSTRAINT execution_verdict_check
        CHECK (verdict IN ('pending','checking','detected','not_detected','error','no_detections','no_usable_detections'))`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DELETE FROM detection_task WHERE status = 'rejected'`);
    await q.query(`UPDATE execution SET verdict = 'no_detections' WHERE verdict = 'no_usable_detections'`);
    await q.query(`ALTER TABLE execution
      DROP CONSTRAINT execution_verdict_check,
      ADD CONSTRAINT execution_verdict_check
        CHECK (verdict IN ('pending','checking','detected','not_detected','error','no_detections'))`);
    await q.query(`ALTER TABLE detection_task
      DROP CONSTRAINT detection_task_rejection_reason_check,
      DROP CONSTRAINT detection_task_detection_type_check,
      DROP CONSTRAINT detection_task_status_check,
      DROP COLUMN rejection_reason,
      DROP COLUMN host_os,
      ALTER COLUMN detection_type SET NOT NULL,
      ADD CONSTRAINT detection_task_detection_type_check CHECK (detection_type IN ('api','agent')),
      ADD CONSTRAINT detection_task_status_check
        CHECK (status IN ('pending','dispatched','completed','failed','timed_out'))`);
  }
}
