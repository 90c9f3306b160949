import { backoffDelay } from '@purple/platform';
import { isTransientFailure } from './errors';

/** Longest pause before a message that failed for a temporary reason is handed back to its queue. */
export const DEFAULT_RETRY_MAX_DELAY_MS = 10_000;

/**
 * How long a consumer holds a message that failed for a temporary reason (the database is down) before
 * requeueing it: longer with each redelivery (quorum queues count them in `x-delivery-count`), so an outage
 * costs a few retries a minute, not a hot loop.
 */
export function retryDelayMs(headers: Record<string, unknown> | undefined, maxMs = DEFAULT_RETRY_MAX_DELAY_MS): number {
  const deliveries = Number(headers?.['x-delivery-count'] ?? 0);
  return backoffDelay(Number.isFinite(deliveries) ? deliveries : 0, 500, maxMs);
}

/** What a consumer does with a message it could not process. */
export type FailureDecision = { action: 'retry'; delayMs: number; reason: string } | { action: 'dead-letter'; reason: string };

/**
 * Temporary failures (database unavailable, a lost race) are retried after a pause; everything else — bad
 * input, or data the database refuses — is dead-lettered with the reason, because it would fail the same way
 * again and must not block the queue or loop.
 */
export function decideOnFailure(error: unknown, headers: Record<string, unknown> | undefined, maxDelayMs?: number): FailureDecision {
  const reason = error instanceof Error ? error.message : String(error);
  if (isTransientFailure(error)) return { action: 'retry', delayMs: retryDelayMs(headers, maxDelayMs), reason };
  return { action: 'dead-letter', reason };
}
