import type { Channel, ConsumeMessage, Message, Options } from 'amqplib';

/** What to do with a consumed message once its handler is done. The consumer runtime alone carries it out. */
export type Disposition =
  /** its effect is durable (stored, published and confirmed, or delivered): remove it from the queue */
  | { action: 'ack' }
  /** it can never be processed: move it to the dead-letter queue with the reason in a header */
  | { action: 'dead-letter'; reason: string }
  /** put it back on the queue now (counts as a delivery on a quorum queue: for rare cases only) */
  | { action: 'requeue' }
  /** put it back where it was and stop consuming the queue (a webhook that answered 410) */
  | { action: 'requeue-and-stop' }
  /** the consumer is stopping or its channel is gone: leave it unacked, the broker gives it out again */
  | { action: 'release' }
  /**
   * A dependency is unavailable (the database is down): close the consumer's gate, so no more messages are taken,
   * keep this one in hand (it is not returned, so its delivery count does not climb) and run it again once the gate
   * opens. A consumer without a gate requeues it instead.
   */
  | { action: 'retry-when-open'; reason: string };

export const ACK: Disposition = { action: 'ack' };
export const RELEASE: Disposition = { action: 'release' };
export const REQUEUE: Disposition = { action: 'requeue' };
export const deadLetter = (reason: string): Disposition => ({ action: 'dead-letter', reason });
export const retryWhenOpen = (reason: string): Disposition => ({ action: 'retry-when-open', reason });

/** One message in the hands of a handler. */
export interface Delivery {
  readonly message: ConsumeMessage;
  /** Publishes on the channel the message came from, resolving on the broker's confirm, rejecting on a nack. */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void>;
  /** Aborted when the consumer stops or its channel closes: long waits end early and release the message. */
  readonly signal: AbortSignal;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<Disposition>;

/**
 * Acks (`ack`), requeues (`requeue`) or rejects to the queue's dead-letter policy (`reject`). Returns false, and
 * never throws, when the channel is already closed: the broker then gives the message out again by itself.
 */
export function settle(channel: Channel, message: Message, how: 'ack' | 'requeue' | 'reject'): boolean {
  try {
    if (how === 'ack') channel.ack(message);
    else channel.nack(message, false, how === 'requeue');
    return true;
  } catch {
    return false;
  }
}
