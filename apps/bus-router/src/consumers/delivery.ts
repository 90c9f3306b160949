import type { ConsumeMessage, Options } from 'amqplib';

/** What to do with a consumed message once its handler is done. */
export type Disposition =
  /** its effect is durable (published and confirmed, or delivered): remove it from the queue */
  | { action: 'ack' }
  /** it can never be processed: move it to the client's dead-letter queue with the reason in a header */
  | { action: 'dead-letter'; reason: string }
  /** put it back where it was and stop consuming the queue (a webhook that answered 410) */
  | { action: 'requeue-and-stop' }
  /** the consumer is stopping or its channel is gone: leave it unacked, the broker gives it out again */
  | { action: 'release' };

export const ACK: Disposition = { action: 'ack' };
export const RELEASE: Disposition = { action: 'release' };
export const deadLetter = (reason: string): Disposition => ({ action: 'dead-letter', reason });

/** One message in the hands of a handler. */
export interface Delivery {
  readonly message: ConsumeMessage;
  /** Publishes on the channel the message came from, resolving on the broker's confirm, rejecting on a nack. */
  publish(exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void>;
  /** Aborted when the consumer stops or its channel closes: long waits end early and release the message. */
  readonly signal: AbortSignal;
}

export type DeliveryHandler = (delivery: Delivery) => Promise<Disposition>;

/** Waits `ms`, or less if `signal` aborts; true when the full time passed. */
export function pause(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (completed: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener('abort', onAbort);
      resolve(completed);
    };
    const onAbort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener('abort', onAbort, { once: true });
  });
}
