import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, Max, Min } from 'class-validator';
import { CommonEnv } from '@purple/platform';

/**
 * The detection semantics of one task (DESIGN "Detection semantics"): search the window
 * [executed_at − before, executed_at + after], first at executed_at + initial delay, then every retry interval until
 * a match or the window has closed; only then "not detected".
 */
export interface DetectionSettings {
  windowBeforeSeconds: number;
  windowAfterSeconds: number;
  initialDelaySeconds: number;
  retryIntervalSeconds: number;
  /** searches failing in a row (network, 5xx, timeouts) before the task is answered `error` */
  maxConsecutiveFailures: number;
  /** a random extra initial delay of up to this many seconds, drawn once by the dispatcher ({@link drawJitter}) */
  jitterSeconds: number;
}

/**
 * Defaults for tasks whose `detection_config` does not say, from the environment of the dispatcher (which writes
 * the resolved values into every task it sends) and of the workers (for tasks from other producers).
 */
export class DetectionDefaultsEnv extends CommonEnv {
  @Type(() => Number)
  @IsInt()
  @Min(0)
  DETECTION_WINDOW_BEFORE_SECONDS = 300;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  DETECTION_WINDOW_AFTER_SECONDS = 300;

  @Type(() => Number)
  @IsInt()
  @Min(0)
  DETECTION_INITIAL_DELAY_SECONDS = 30;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  DETECTION_RETRY_INTERVAL_SECONDS = 30;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  DETECTION_MAX_CONSECUTIVE_FAILURES = 3;

  /**
   * Upper bound for a task's window after (and initial delay). A worker holds the task unacknowledged while it
   * waits, and RabbitMQ's consumer_timeout (30 min by default) would take it back from a worker that holds it
   * longer.
   */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(86_400)
  DETECTION_MAX_WINDOW_AFTER_SECONDS = 1200;
}

export function detectionDefaultsOf(env: DetectionDefaultsEnv): DetectionSettings & { maxWindowAfterSeconds: number } {
  return {
    windowBeforeSeconds: env.DETECTION_WINDOW_BEFORE_SECONDS,
    windowAfterSeconds: env.DETECTION_WINDOW_AFTER_SECONDS,
    initialDelaySeconds: env.DETECTION_INITIAL_DELAY_SECONDS,
    retryIntervalSeconds: env.DETECTION_RETRY_INTERVAL_SECONDS,
    maxConsecutiveFailures: env.DETECTION_MAX_CONSECUTIVE_FAILURES,
    // no jitter unless a detection asks for it
    jitterSeconds: 0,
    maxWindowAfterSeconds: env.DETECTION_MAX_WINDOW_AFTER_SECONDS,
  };
}

/** The `detection_config` keys of the semantics (snake_case, as producers and the task message carry them). */
const CONFIG_KEYS: Record<keyof DetectionSettings, { key: string; min: number }> = {
  windowBeforeSeconds: { key: 'window_before_seconds', min: 0 },
  windowAfterSeconds: { key: 'window_after_seconds', min: 0 },
  initialDelaySeconds: { key: 'initial_delay_seconds', min: 0 },
  retryIntervalSeconds: { key: 'retry_interval_seconds', min: 1 },
  maxConsecutiveFailures: { key: 'max_consecutive_failures', min: 1 },
  jitterSeconds: { key: 'jitter_seconds', min: 0 },
};

/**
 * The settings for one task: each value from its `detection_config` when it is a whole number in range, else the
 * default; the window after and the initial delay are capped at `maxWindowAfterSeconds`.
 */
export function resolveDetectionSettings(
  config: Record<string, unknown> | null | undefined,
  defaults: DetectionSettings & { maxWindowAfterSeconds: number },
): DetectionSettings {
  const pick = (name: keyof DetectionSettings): number => {
    const { key, min } = CONFIG_KEYS[name];
    const value = config?.[key];
    return typeof value === 'number' && Number.isInteger(value) && value >= min ? value : defaults[name];
  };
  return {
    windowBeforeSeconds: pick('windowBeforeSeconds'),
    windowAfterSeconds: Math.min(pick('windowAfterSeconds'), defaults.maxWindowAfterSeconds),
    initialDelaySeconds: Math.min(pick('initialDelaySeconds'), defaults.maxWindowAfterSeconds),
    retryIntervalSeconds: pick('retryIntervalSeconds'),
    maxConsecutiveFailures: pick('maxConsecutiveFailures'),
    jitterSeconds: pick('jitterSeconds'),
  };
}

/**
 * The settings with the task's random extra delay drawn: up to `jitterSeconds` more initial delay (whole seconds,
 * capped like the delay itself), and no jitter left, so the worker waits exactly what the dispatcher drew. Spreads
 * the searches of many executions of one ability over time, as Caldera's own jitter spreads its links.
 */
export function drawJitter(settings: DetectionSettings, maxDelaySeconds: number, random: () => number = Math.random): DetectionSettings {
  if (settings.jitterSeconds === 0) return settings;
  const extra = Math.floor(random() * (settings.jitterSeconds + 1));
  return { ...settings, initialDelaySeconds: Math.min(settings.initialDelaySeconds + extra, maxDelaySeconds), jitterSeconds: 0 };
}

/** The settings as `detection_config` keys, so every worker runs a task exactly as its dispatcher planned it. */
export function settingsAsConfig(settings: DetectionSettings): Record<string, number> {
  return Object.fromEntries(
    (Object.keys(CONFIG_KEYS) as Array<keyof DetectionSettings>).map((name) => [CONFIG_KEYS[name].key, settings[name]]),
  );
}

/** The search window of an execution, and when the last search starts at the earliest. */
export function searchWindow(executedAt: Date, settings: DetectionSettings) {
  const at = executedAt.getTime();
  return {
    earliest: new Date(at - settings.windowBeforeSeconds * 1000),
    latest: new Date(at + settings.windowAfterSeconds * 1000),
    firstSearchAt: new Date(at + settings.initialDelaySeconds * 1000),
    /** searching goes on until here: the window's end, or the first search if the delay reaches past it */
    closesAt: new Date(at + Math.max(settings.windowAfterSeconds, settings.initialDelaySeconds) * 1000),
  };
}
