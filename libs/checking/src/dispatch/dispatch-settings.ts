/** How the dispatcher works: set from its environment (apps/dispatcher/src/dispatcher-env.ts). */
export interface DispatchSettings {
  /** tasks claimed (and locked) per transaction */
  batchSize: number;
  /** slack on top of a task's deadline before it counts as unanswered */
  graceSeconds: number;
  sweepMs: number;
}

export const DISPATCH_SETTINGS = Symbol('DISPATCH_SETTINGS');

/** Initial delays learned per source from its latest detections. */
export interface LearnedDelaySettings {
  enabled: boolean;
  minSeconds: number;
  maxSeconds: number;
  minSamples: number;
  refreshMs: number;
}

export const LEARNED_DELAY_SETTINGS = Symbol('LEARNED_DELAY_SETTINGS');
