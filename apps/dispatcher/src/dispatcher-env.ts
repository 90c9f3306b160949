import { Type } from 'class-transformer';
import { IsIn, IsInt, Max, Min } from 'class-validator';
import type { LearnedDelaySettings } from '@purple/checking/dispatch';
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

  /**
   * A task whose ability sets no initial delay waits its source's learned ingestion delay (the p90 of match time
   * minus event time over the source's latest detections) instead of DETECTION_INITIAL_DELAY_SECONDS.
   */
  @IsIn(['true', 'false'])
  DETECTION_LEARNED_DELAY: 'true' | 'false' = 'true';

  /** bounds of a learned delay (also capped by DETECTION_MAX_WINDOW_AFTER_SECONDS) */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400)
  DETECTION_LEARNED_DELAY_MIN_SECONDS = 0;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400)
  DETECTION_LEARNED_DELAY_MAX_SECONDS = 300;

  /** detections with an event time a source needs before its delay is learned */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100_000)
  DETECTION_LEARNED_DELAY_MIN_SAMPLES = 5;

  /** how long the learned delays are reused before they are read again */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400)
  DETECTION_LEARNED_DELAY_REFRESH_SECONDS = 60;
}


export function learnedDelaySettingsOf(env: DispatcherEnv): LearnedDelaySettings {
  return {
    enabled: env.DETECTION_LEARNED_DELAY === 'true',
    minSeconds: env.DETECTION_LEARNED_DELAY_MIN_SECONDS,
    maxSeconds: Math.max(env.DETECTION_LEARNED_DELAY_MIN_SECONDS, env.DETECTION_LEARNED_DELAY_MAX_SECONDS),
    minSamples: env.DETECTION_LEARNED_DELAY_MIN_SAMPLES,
    refreshMs: env.DETECTION_LEARNED_DELAY_REFRESH_SECONDS * 1000,
  };
}
