import type { ResultStatus, Verdict } from '@purple/persistence';

/** Verdicts a detection can arrive after: the execution was decided without one. */
const DECIDED_WITHOUT_DETECTION: readonly Verdict[] = ['not_detected', 'error'];

/**
 * A detection is late when it arrives after its execution was decided `not_detected` or `error` (a re-check, a
 * redispatch, a slow source): it still makes the verdict `detected` (nothing turns a detection back), flagged late,
 * and the earlier verdict stays in the history.
 */
export function isLateDetection(status: ResultStatus, verdictBefore: Verdict): boolean {
  return status === 'detected' && DECIDED_WITHOUT_DETECTION.includes(verdictBefore);
}

/**
 * After a task's `not_detected` answer: the seconds until its one re-check, or null for none. A re-check is never
 * re-checked; the task's own `recheck_after_seconds` wins over the default (0 = off).
 */
export function recheckDelaySeconds(
  status: ResultStatus,
  task: { isRecheck: boolean; config: Record<string, unknown> },
  defaultSeconds: number,
): number | null {
  if (status !== 'not_detected' || task.isRecheck) return null;
  const own = task.config['recheck_after_seconds'];
  const seconds = typeof own === 'number' && Number.isInteger(own) && own >= 0 ? own : defaultSeconds;
  return seconds > 0 ? seconds : null;
}

/** The source's ingestion delay seen by one detection: when it was found minus the event's time (never negative). */
export function ingestionDelayMs(status: ResultStatus, matchedEventAt: Date | null, foundAt: Date): number | null {
  if (status !== 'detected' || matchedEventAt === null) return null;
  return Math.max(0, foundAt.getTime() - matchedEventAt.getTime());
}
