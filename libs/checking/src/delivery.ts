import { Disposition, QueueConsumerOptions, deadLetter, retryWhenOpen } from '@purple/messaging';
import { Gate, backoffDelay } from '@purple/platform';
import { CHECKING_DLX } from '@purple/topology';
import { isTransientFailure } from './errors';

/** Longest pause before a dead letter that could not be recorded for a lasting reason is handed back to its queue. */
export const DEFAULT_RETRY_MAX_DELAY_MS = 10_000;

/**
 * How long the dead-letter consumer holds a message it could not record (for a reason other than the database
 * being down) before requeueing it: longer with each redelivery (quorum queues count them in `x-delivery-count`).
 */
export function retryDelayMs(headers: Record<string, unknown> | undefined, maxMs = DEFAULT_RETRY_MAX_DELAY_MS): number {
  const deliveries = Number(headers?.['x-delivery-count'] ?? 0);
  return backoffDelay(Number.isFinite(deliveries) ? deliveries : 0, 500, maxMs);
}

/**
 * What becomes of a message that failed. A temporary failure (database unavailable, a lost race) keeps it in hand
 * and pauses consumption until the database answers; everything else — bad input, or data the database refuses —
 * is dead-lettered with the reason, because it would fail the same way again and must not block the queue or loop.
 */
export function dispositionOnFailure(error: unknown): Disposition {
  const reason = error instanceof Error ? error.message : String(error);
  return isTransientFailure(error) ? retryWhenOpen(`database unavailable (${reason})`) : deadLetter(reason);
}

/** messages a checking consumer handles at once (each in its own transaction) */
const CHECKING_PREFETCH = 10;

/**
 * How the checking engine's consumers consume `queue`: dead letters go to the checking DLX, routed by the queue's
 * name to its dead-letter queue; nothing is taken while the database's gate is closed.
 */
export function checkingQueue(queue: string, databaseGate: Gate): QueueConsumerOptions {
  return {
    queue,
    deadLetterExchange: CHECKING_DLX,
    deadLetterRoutingKey: queue,
    retryBaseMs: 500,
    retryMaxMs: 30_000,
    prefetch: CHECKING_PREFETCH,
    gate: databaseGate,
  };
}
