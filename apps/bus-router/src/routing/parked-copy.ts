import type { MessageProperties, Options } from 'amqplib';
import { REJECTION_REASON_HEADER } from '@purple/messaging';
import { SOAR_EXCHANGES, clientQueues } from '@purple/topology';

/** The reason a copy carries into its client's dead-letter queue when its inbox stayed full for the whole window. */
export const INBOX_FULL = 'inbox full';

/**
 * A copy of a message for one inbox that refused it (full), parked in the retry queue. The headers carry the
 * whole retry state, so a router that restarts, or another replica, goes on where the last attempt stopped.
 */
export interface ParkedCopy {
  /** the client whose inbox refused the copy */
  destination: string;
  /** attempts made so far */
  attempts: number;
  /** epoch ms: not before */
  retryAt: number;
  /** epoch ms: past this, one more refusal dead-letters the copy */
  giveUpAt: number;
}

const DESTINATION = 'x-destination';
const ATTEMPTS = 'x-attempts';
const RETRY_AT = 'x-retry-at';
const GIVE_UP_AT = 'x-give-up-at';
const PARK_HEADERS = [DESTINATION, ATTEMPTS, RETRY_AT, GIVE_UP_AT];

/** A broker nack (an inbox at its max-length with `reject-publish`), as opposed to a channel that closed. */
export const isRefusal = (error: unknown): boolean => error instanceof Error && error.message === 'message nacked';

/** The publish options of a parked copy: the copy's own, plus its retry state. */
export function parkedOptions(options: Options.Publish, copy: ParkedCopy): Options.Publish {
  return {
    ...options,
    headers: {
      ...options.headers,
      [DESTINATION]: copy.destination,
      [ATTEMPTS]: copy.attempts,
      [RETRY_AT]: copy.retryAt,
      [GIVE_UP_AT]: copy.giveUpAt,
    },
  };
}

/** The retry state of a message from the retry queue, or undefined when its headers are not one. */
export function readParkedCopy(properties: MessageProperties): ParkedCopy | undefined {
  const headers = properties.headers ?? {};
  const destination = headers[DESTINATION];
  const [attempts, retryAt, giveUpAt] = [headers[ATTEMPTS], headers[RETRY_AT], headers[GIVE_UP_AT]].map(Number);
  if (typeof destination !== 'string' || !destination || ![attempts, retryAt, giveUpAt].every(Number.isFinite)) return undefined;
  return { destination, attempts, retryAt, giveUpAt };
}

/** The options to deliver a parked copy to its inbox with: its own, without the retry state. */
export function deliveryOptions(properties: MessageProperties): Options.Publish {
  const headers = { ...properties.headers };
  for (const name of PARK_HEADERS) delete headers[name];
  return { ...copyOptions(properties), headers };
}

/** The options to dead-letter a parked copy into its client's dead-letter queue with the reason, as consumers do. */
export function inboxFullDeadLetterOptions(properties: MessageProperties, copy: ParkedCopy): Options.Publish {
  const options = deliveryOptions(properties);
  return {
    ...options,
    headers: {
      ...options.headers,
      [REJECTION_REASON_HEADER]: INBOX_FULL,
      [ATTEMPTS]: copy.attempts,
      'x-original-exchange': SOAR_EXCHANGES.direct,
      'x-original-routing-key': copy.destination,
      'x-original-queue': clientQueues(copy.destination).inbox,
    },
  };
}

function copyOptions(properties: MessageProperties): Options.Publish {
  return {
    persistent: true,
    contentType: properties.contentType,
    messageId: properties.messageId,
    correlationId: properties.correlationId,
    timestamp: properties.timestamp,
    appId: properties.appId,
  };
}
