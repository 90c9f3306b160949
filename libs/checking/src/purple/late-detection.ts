import type { ExecutionVerdict, ResponseStatus } from '@purple/contracts';

/** Verdicts a detection can arrive after: the execution was decided without one. */
const DECIDED_WITHOUT_DETECTION: readonly ExecutionVerdict[] = ['not_detected', 'error'];

/**
 * A detection is late when it arrives after its execution was decided `not_detected` or `error` (a re-check, a
 * redispatch, a slow source): it still makes the verdict `detected` (nothing turns a detection back), flagged late,
 * and the earlier verdict stays in the history.
 */
export function isLateDetection(status: ResponseStatus, verdictBefore: ExecutionVerdict): boolean {
  return status === 'detected' && DECIDED_WITHOUT_DETECTION.includes(verdictBefore);
}

/**
 * After a task's `not_detected` answer: the seconds until its one re-check, or null for none. A re-check is never
 * re-checked; the task's own `recheck_after_seconds` wins over the default (0 = off).
 */
export function recheckDelaySeconds(
  status: ResponseStatus,
  task: { isRecheck: boolean; config: Record<string, unknown> },
  defaultSeconds: number,
): number | null {
  if (status !== 'not_detected' || task.isRecheck) return null;
  const own = task.config['recheck_after_seconds'];
  const seconds = typeof own === 'number' && Number.isInteger(own) && own >= 0 ? own : defaultSeconds;
  return seconds > 0 ? seconds : null;
}

/**
 * A detection found later than this after its execution ran says nothing about how fast the source ingests (a
 * replay of old results, a redispatch days later, a check of an execution reported long after it ran): it would
 * teach every later check to wait the maximum, so it is not a sample.
 */
export const INGESTION_SAMPLE_HORIZON_MS = 60 * 60 * 1000;

/**
 * The source's ingestion delay seen by one detection: when it was found minus the event's time (never negative);
 * null when it is no sample (see {@link INGESTION_SAMPLE_HORIZON_MS}).
 */
export function ingestionDelayMs(status: ResponseStatus, matchedEventAt: Date | null, foundAt: Date, executedAt: Date): number | null {
  if (status !== 'detected' || matchedEventAt === null) return null;
  if (foundAt.getTime() - executedAt.getTime() > INGESTION_SAMPLE_HORIZON_MS) return null;
  return Math.max(0, foundAt.getTime() - matchedEventAt.getTime());
}
