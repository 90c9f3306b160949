import { Logger } from '@nestjs/common';
import type { ChannelModel, ConfirmChannel, ConsumeMessage, Options } from 'amqplib';
import { Gate, backoffDelay, pause } from '@purple/platform';
import { REJECTION_REASON_HEADER } from '../dead-letter';
import { handlerDuration, messagesAcked, messagesConsumed, messagesDeadLettered, messagesNacked, reasonCategory } from '../metrics';
import { Delivery, DeliveryHandler, Disposition, settle } from './delivery';

/** Where consumers get the app's one broker connection from. */
export interface ConnectionSource {
  /** The current connection, waiting while there is none; rejects once `signal` aborts. */
  connect(signal: AbortSignal): Promise<ChannelModel>;
}

export interface QueueConsumerOptions {
  queue: string;
  /** where a message the handler refuses goes, with the reason in a header */
  deadLetterExchange: string;
  deadLetterRoutingKey: string;
  /** backoff between attempts while the queue does not exist yet or the connection is down */
  retryBaseMs: number;
  retryMaxMs: number;
  /**
   * Messages handled at once. With 1, each is settled before the next starts. With more, handlers start in
   * delivery order as messages arrive (a forwarding handler publishes before its first wait, so publishes keep the
   * queue's order) and each message is acked on its own once its effect is confirmed.
   */
  prefetch: number;
  /**
   * The dependency the handler needs (the database): nothing is consumed while it is closed, and a handler's
   * `retry-when-open` closes it. Messages already in hand wait for it and run again, without being returned.
   */
  gate?: Gate;
}

/**
 * The one consumer runtime: every queue of every app is consumed through it, and it alone acks, nacks and
 * dead-letters. It consumes one queue (`prefetch` messages in hand, started in order) on a confirm channel of its
 * own on the app's connection, so the handler's publish and the ack travel on the same channel and one queue's
 * trouble (it does not exist yet, it was deleted) closes only its own channel. It starts again, with backoff,
 * whenever the channel closes, until stopped. A channel that closed under a running handler is logged, never
 * thrown: the broker redelivers what was unacked. Stopping lets the messages in hand finish.
 */
export class QueueConsumer {
  private readonly logger: Logger;
  private readonly stopping = new AbortController();
  private running?: Promise<void>;
  private ended = false;
  /** handlers still running, from this channel or from one that closed under them */
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly source: ConnectionSource,
    readonly options: QueueConsumerOptions,
    private readonly handler: DeliveryHandler,
  ) {
    this.logger = new Logger(`Consumer ${options.queue}`);
  }

  start(): void {
    this.running ??= this.run();
  }

  /** true once it no longer consumes: stopped, or it stopped itself (requeue-and-stop) */
  get stopped(): boolean {
    return this.ended;
  }

  async stop(): Promise<void> {
    this.stopping.abort();
    await this.running;
    await Promise.all([...this.inFlight]);
  }

  private async run(): Promise<void> {
    const { signal } = this.stopping;
    let failures = 0;
    let reportedMissing = false;
    while (!signal.aborted) {
      try {
        const connection = await this.source.connect(signal);
        const outcome = await this.consumeUntilClosed(connection);
        if (outcome === 'stop') break;
        failures = 0;
        reportedMissing = false;
      } catch (error) {
        if (signal.aborted) break;
        if (isNotFound(error)) {
          // a new client's queues may be created a moment after its row; a deleted client's consumer is stopped soon
          const log = reportedMissing ? 'debug' : 'warn';
          this.logger[log](`queue ${this.options.queue} does not exist (yet); retrying`);
          reportedMissing = true;
        } else {
          this.logger.warn(`consuming ${this.options.queue} failed: ${describe(error)}; retrying`);
        }
      }
      if (!(await pause(backoffDelay(failures++, this.options.retryBaseMs, this.options.retryMaxMs), signal))) break;
    }
    this.ended = true;
  }

  /** Consumes until the channel closes, the broker cancels the consumer, or the consumer is stopped. */
  private async consumeUntilClosed(connection: ChannelModel): Promise<'closed' | 'stop'> {
    const channel = await connection.createConfirmChannel();
    // aborted when this channel's session ends, for whatever reason
    const session = new AbortController();
    const endSession = () => session.abort();
    let open = true;
    let closeReason: unknown;
    channel.on('error', (error: unknown) => (closeReason = error));
    channel.on('close', () => {
      open = false;
      endSession();
    });
    this.stopping.signal.addEventListener('abort', endSession, { once: true });
    let outcome: 'closed' | 'stop' = 'closed';
    const { queue, prefetch, gate } = this.options;
    try {
      await channel.checkQueue(queue);
      await channel.prefetch(prefetch);
      let chain = Promise.resolve();
      const handle = async (message: ConsumeMessage) => {
        if ((await this.process(channel, message, session.signal)) === 'stop') {
          outcome = 'stop';
          endSession();
        }
      };
      const onMessage = (message: ConsumeMessage | null) => {
        // null: the broker cancelled the consumer because the queue was deleted
        if (message === null) return endSession();
        if (prefetch === 1) chain = this.track(chain.then(() => handle(message)));
        else this.track(handle(message));
      };
      // nothing is taken before the gate first opens. Later outages do not cancel the consumer: at most `prefetch`
      // messages reach it, and each waits in hand (process() waits for the gate) without a delivery counted. A
      // cancelled quorum-queue consumer that consumed again was seen to get one of them redelivered.
      if (gate && !gate.isOpen) {
        this.logger.warn(`not consuming ${queue}: ${gate.reason}; consumption paused until it answers`);
        await gate.waitOpen(session.signal);
      }
      if (!session.signal.aborted) {
        await channel.consume(queue, onMessage);
        this.logger.debug(`consuming ${queue}`);
        await untilAborted(session.signal);
      }
      // a closed channel cannot settle what is in hand: consume again at once, and let those handlers end on their own
      if (open) await Promise.all([...this.inFlight]);
      if (closeReason && !this.stopping.signal.aborted) this.logger.warn(`channel for ${queue} closed: ${describe(closeReason)}`);
      return outcome;
    } finally {
      this.stopping.signal.removeEventListener('abort', endSession);
      if (open) await channel.close().catch(() => undefined);
    }
  }

  /** `handling` never rejects: process() turns every failure into a disposition or a log line */
  private track(handling: Promise<void>): Promise<void> {
    this.inFlight.add(handling);
    const done = () => this.inFlight.delete(handling);
    handling.then(done, done);
    return handling;
  }

  private async process(channel: ConfirmChannel, message: ConsumeMessage, signal: AbortSignal): Promise<'continue' | 'stop'> {
    const delivery: Delivery = {
      message,
      signal,
      publish: (exchange, routingKey, content, options) => confirmedPublish(channel, exchange, routingKey, content, options),
    };
    const { queue, gate } = this.options;
    messagesConsumed.inc({ queue });
    const stopTimer = handlerDuration.startTimer({ queue });
    // delivered just before the gate closed: wait with it rather than spend an attempt on a known outage
    const waited = !gate || gate.isOpen || (await gate.waitOpen(signal));
    let disposition: Disposition = waited ? await this.runHandler(delivery) : { action: 'release' };
    while (disposition.action === 'retry-when-open' && gate) {
      gate.close(disposition.reason);
      this.logger.warn(`${disposition.reason}: the message from ${queue} is kept and tried again when it answers`);
      // gone with the channel meanwhile: the broker redelivers it
      disposition = (await gate.waitOpen(signal)) ? await this.runHandler(delivery) : { action: 'release' };
    }
    stopTimer();
    try {
      switch (disposition.action) {
        case 'ack':
          if (!settle(channel, message, 'ack')) return this.closedUnder(message);
          messagesAcked.inc({ queue });
          return 'continue';
        case 'dead-letter':
          messagesNacked.inc({ queue });
          await this.deadLetter(channel, message, disposition.reason);
          return 'continue';
        case 'requeue':
        case 'retry-when-open':
          if (!settle(channel, message, 'requeue')) return this.closedUnder(message);
          return 'continue';
        case 'requeue-and-stop':
          // cancel first, so the broker does not hand the message straight back to this consumer
          await channel.cancel(message.fields.consumerTag);
          if (!settle(channel, message, 'requeue')) return this.closedUnder(message);
          return 'stop';
        case 'release':
          return 'continue';
      }
    } catch (error) {
      this.logger.warn(`could not settle a message from ${queue} (${describe(error)}); the broker will redeliver it`);
    }
    return 'continue';
  }

  private async runHandler(delivery: Delivery): Promise<Disposition> {
    try {
      return await this.handler(delivery);
    } catch (error) {
      // a fault of ours must neither lose the message nor redeliver it forever
      this.logger.error(`handling a message from ${this.options.queue} failed: ${describe(error)}`);
      return { action: 'dead-letter', reason: describe(error) };
    }
  }

  private closedUnder(message: ConsumeMessage): 'continue' {
    this.logger.warn(
      `the channel for ${this.options.queue} closed while a message (${message.properties.messageId ?? 'no id'}) was in hand; ` +
        'the broker will redeliver it',
    );
    return 'continue';
  }

  /** Republishes to the dead-letter exchange with the reason, waits for the confirm, then acks. */
  private async deadLetter(channel: ConfirmChannel, message: ConsumeMessage, reason: string): Promise<void> {
    const { deadLetterExchange, deadLetterRoutingKey, queue } = this.options;
    this.logger.warn(`dead-lettering a message from ${queue}: ${reason}`);
    try {
      await confirmedPublish(channel, deadLetterExchange, deadLetterRoutingKey, message.content, {
        ...message.properties,
        persistent: true,
        headers: {
          ...message.properties.headers,
          [REJECTION_REASON_HEADER]: reason.slice(0, MAX_REASON_LENGTH),
          'x-original-exchange': message.fields.exchange,
          'x-original-routing-key': message.fields.routingKey,
          'x-original-queue': queue,
        },
      });
    } catch {
      // the queue's own dead-letter settings still catch it, without the reason (or, channel gone, it is redelivered)
      if (!settle(channel, message, 'reject')) this.closedUnder(message);
      return;
    }
    if (!settle(channel, message, 'ack')) return void this.closedUnder(message);
    messagesDeadLettered.inc({ queue, reason: reasonCategory(reason) });
  }
}

const MAX_REASON_LENGTH = 1000;

const untilAborted = (signal: AbortSignal) =>
  new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));

/** Publishes and resolves on the broker's confirm; rejects on a nack or a closed channel. */
export function confirmedPublish(
  channel: ConfirmChannel,
  exchange: string,
  routingKey: string,
  content: Buffer,
  options: Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    try {
      channel.publish(exchange, routingKey, content, options, (error: unknown) => (error ? reject(error) : resolve()));
    } catch (error) {
      reject(error);
    }
  });
}

const isNotFound = (error: unknown) => (error as { code?: number })?.code === 404;

const describe = (error: unknown) => (error instanceof Error ? error.message.split('\n')[0] : String(error));
