import { Injectable } from '@nestjs/common';
import { settle } from '@purple/messaging';
import { SOAR_EXCHANGES } from '@purple/topology';
import type { ConfirmChannel, Message, Options } from 'amqplib';
import { BrokerChannels, brokerErrorMessage, brokerFailure, closeQuietly, deadLetterQueueOf } from './broker-channels';

/** Headers the broker writes when it dead-letters; a replayed message starts afresh without them. */
const DEATH_HEADERS = ['x-death', 'x-first-death-exchange', 'x-first-death-queue', 'x-first-death-reason', 'x-last-death-exchange', 'x-last-death-queue', 'x-last-death-reason'];

/** A client's dead-letter queue (`<id>-dlq`): messages its webhook could not take, or its inbox rejected. */
@Injectable()
export class DeadLetterQueue {
  constructor(private readonly channels: BrokerChannels) {}

  /** Up to `max` messages, looked at and put back (the channel closes without acking them). */
  async peek(clientId: string, max: number): Promise<Message[]> {
    const channel = await this.channels.open();
    try {
      const messages: Message[] = [];
      while (messages.length < max) {
        const message = await channel.get(deadLetterQueueOf(clientId), { noAck: false });
        if (message === false) break;
        messages.push(message);
      }
      return messages;
    } catch (error) {
      throw brokerFailure(`read the dead letters of ${clientId}`, error);
    } finally {
      await closeQuietly(channel);
    }
  }

  /**
   * Moves up to `max` messages back into the client's inbox through `soar-direct`: each is published (mandatory,
   * persistent), confirmed by the broker, and only then acked in the dead-letter queue.
   * @returns how many were moved
   */
  async replay(clientId: string, max: number): Promise<number> {
    const channel = await this.channels.openConfirm();
    let moved = 0;
    try {
      while (moved < max) {
        const message = await channel.get(deadLetterQueueOf(clientId), { noAck: false });
        if (message === false) break;
        await publishConfirmed(channel, SOAR_EXCHANGES.direct, clientId, message.content, republishOptions(message));
        // a channel gone before the ack: the message is in the inbox and, once more, in the dead-letter queue
        if (!settle(channel, message, 'ack')) throw new Error('channel closed before the move was acknowledged');
        moved++;
      }
      return moved;
    } catch (error) {
      throw new ReplayError(moved, brokerErrorMessage(error));
    } finally {
      await closeQuietly(channel);
    }
  }
}

export class ReplayError extends Error {
  constructor(
    readonly moved: number,
    reason: string,
  ) {
    super(`replay stopped after ${moved} message(s): ${reason}`);
  }
}

function republishOptions(message: Message): Options.Publish {
  const { messageId, correlationId, contentType, contentEncoding, timestamp, type, appId, headers } = message.properties;
  const kept = Object.fromEntries(Object.entries(headers ?? {}).filter(([name]) => !DEATH_HEADERS.includes(name)));
  return { messageId, correlationId, contentType, contentEncoding, timestamp, type, appId, headers: kept, persistent: true, mandatory: true };
}

/** Publishes and waits for the confirm; a message the broker returns as unroutable counts as a failure, not a success. */
async function publishConfirmed(channel: ConfirmChannel, exchange: string, routingKey: string, content: Buffer, options: Options.Publish): Promise<void> {
  let returned = false;
  const onReturn = () => (returned = true);
  channel.on('return', onReturn);
  try {
    await new Promise<void>((resolve, reject) =>
      channel.publish(exchange, routingKey, content, options, (error: unknown) => (error ? reject(new Error('the broker refused the message')) : resolve())),
    );
  } finally {
    channel.off('return', onReturn);
  }
  // the broker sends basic.return before the confirm, so by now it has arrived if it was sent
  if (returned) throw new Error(`the message was unroutable: ${exchange} has no queue for ${routingKey}`);
}
