import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { DetectionDefaultsEnv } from '@purple/detection';

/** The dispatcher's variables: every app's, the detection semantics' defaults (written into each task) and these. */
export class DispatcherEnv extends DetectionDefaultsEnv {
  /** the backstop: pending and overdue tasks are looked for this often even without a NOTIFY */
  @Type(() => Number)
  @IsInt()
  @Min(50)
  @Max(3_600_000)
  DISPATCH_SWEEP_MS = 5000;

  /** tasks claimed (and locked) per transaction */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  DISPATCH_BATCH_SIZE = 50;

  /**
   * Slack on top of a task's deadline (its search window's end plus the search time) before it counts as
   * unanswered: time in the queue behind other tasks, and the response's way back.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400)
  DISPATCH_GRACE_SECONDS = 60;
}

export interface DispatchSettings {
  batchSize: number;
  graceSeconds: number;
  sweepMs: number;
}

export const DISPATCH_SETTINGS = Symbol('DISPATCH_SETTINGS');
