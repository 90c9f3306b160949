import { Injectable } from '@nestjs/common';
import { settle } from '@purple/messaging';
import type { Channel, Message } from 'amqplib';
import { BrokerChannels, brokerFailure, closeQuietly, inboxOf } from './broker-channels';
import { ClientChannelQuota } from './client-channel-quota';

/**
 * Messages taken from an inbox on a channel of their own and not yet acked. `settle(true)` acks them (the caller
 * has them); `settle(false)` closes the channel without acking, which returns them to the inbox.
 */
export interface InboxBatch {
  readonly messages: readonly Message[];
  /** dead-letters one message now (the inbox's dead-letter exchange routes it to the client's DLQ) */
  reject(message: Message): void;
  settle(delivered: boolean): Promise<void>;
}

export interface TakeOptions {
  maxMessages: number;
  /** how long to wait for the first message when the inbox is empty; 0 answers at once */
  waitMs: number;
  /** the caller went away: stop waiting */
  signal?: AbortSignal;
}

/**
 * Takes up to `maxMessages` from a client's inbox (basic.get, then a consumer while waiting for the first), on a
 * channel counted against the client's RECEIVE_MAX_CONCURRENT_PER_CLIENT (429 beyond it) until the batch settles.
 */
@Injectable()
export class InboxReader {
  constructor(
    private readonly channels: BrokerChannels,
    private readonly quota: ClientChannelQuota,
  ) {}

  async take(clientId: string, options: TakeOptions): Promise<InboxBatch> {
    const release = this.quota.acquire(clientId, 'read');
    let channel: Channel;
    try {
      channel = await this.channels.open();
    } catch (error) {
      release();
      throw error;
    }
    channel.once('close', release);
    return this.takeOn(channel, clientId, options);
  }

  private async takeOn(channel: Channel, clientId: string, options: TakeOptions): Promise<InboxBatch> {
    const queue = inboxOf(clientId);
    const messages: Message[] = [];
    try {
      await takeAvailable(channel, queue, messages, options.maxMessages);
      if (messages.length === 0 && options.waitMs > 0 && !options.signal?.aborted) {
        await waitForFirst(channel, queue, messages, options);
        if (!options.signal?.aborted) await takeAvailable(channel, queue, messages, options.maxMessages);
      }
    } catch (error) {
      await closeQuietly(channel);
      throw brokerFailure(`read the inbox of ${clientId}`, error);
    }
    return new ChannelBatch(channel, messages);
  }
}

async function takeAvailable(channel: Channel, queue: string, into: Message[], max: number): Promise<void> {
  while (into.length < max) {
    const message = await channel.get(queue, { noAck: false });
    if (message === false) return;
    into.push(message);
  }
}

/**
 * Consumes with a prefetch of `maxMessages` until the first delivery, the deadline or the caller's abort, then
 * cancels. Deliveries that arrive before the broker confirms the cancel are kept too (the prefetch bounds them).
 */
async function waitForFirst(channel: Channel, queue: string, into: Message[], options: TakeOptions): Promise<void> {
  await channel.prefetch(options.maxMessages);
  let wake!: () => void;
  const woken = new Promise<void>((resolve) => (wake = resolve));
  const { consumerTag } = await channel.consume(
    queue,
    (message) => {
      if (message) into.push(message);
      wake(); // null: the broker cancelled the consumer (the queue was deleted)
    },
    { noAck: false },
  );
  const timer = setTimeout(wake, options.waitMs);
  const onAbort = () => wake();
  options.signal?.addEventListener('abort', onAbort, { once: true });
  channel.once('close', onAbort);
  try {
    await woken;
  } finally {
    clearTimeout(timer);
    options.signal?.removeEventListener('abort', onAbort);
    channel.off('close', onAbort);
  }
  await channel.cancel(consumerTag).catch(() => undefined);
}

class ChannelBatch implements InboxBatch {
  private readonly rejected = new Set<Message>();
  private settled = false;

  constructor(
    private readonly channel: Channel,
    readonly messages: readonly Message[],
  ) {}

  reject(message: Message): void {
    this.rejected.add(message);
    // channel already closed: the broker has requeued it, and the next reader will reject it again
    settle(this.channel, message, 'reject');
  }

  async settle(delivered: boolean): Promise<void> {
    if (this.settled) return;
    this.settled = true;
    if (delivered) {
      // a channel that died after the response was written: the broker redelivers; receivers dedupe on message_id
      for (const message of this.messages) if (!this.rejected.has(message) && !settle(this.channel, message, 'ack')) break;
    }
    // closing without acking is the requeue: the broker returns every unacked message to the inbox
    await closeQuietly(this.channel);
  }
}
