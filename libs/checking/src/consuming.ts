import { AmqpConnection, MessageErrorHandler, Nack } from '@golevelup/nestjs-rabbitmq';
import { handlerDuration, messagesAcked, messagesConsumed, messagesNacked } from '@purple/messaging';
import type { ConsumeMessage } from 'amqplib';

export interface RawQueueConsumer {
  queue: string;
  /** names the consumer in golevelup's logs */
  name: string;
  /** gets the body as received (broken JSON included); resolves once the effect is durable, then the message is acked */
  handle(body: Buffer, message: ConsumeMessage): Promise<Nack | void>;
  /** what happens to a message whose handler threw */
  onError: MessageErrorHandler;
}

/**
 * Consumes a provisioned queue through the app's one connection. The subscription is set up on every
 * (re)connection and not awaited: golevelup's decorated handlers hold start-up until the broker answers, and the
 * app must serve /health (503 meanwhile) while it does not. Counts each message in the same metrics as
 * decorated handlers (which @purple/messaging's interceptor counts, but never sees these).
 */
export function consumeQueue(amqp: AmqpConnection, consumer: RawQueueConsumer): void {
  const queue = consumer.queue;
  const handle = async (body: Buffer, message: ConsumeMessage): Promise<Nack | void> => {
    messagesConsumed.inc({ queue });
    const stopTimer = handlerDuration.startTimer({ queue });
    try {
      const outcome = await consumer.handle(body, message);
      // a message handed back to the queue is neither acked nor refused: it will be consumed again
      if (!(outcome instanceof Nack)) messagesAcked.inc({ queue });
      return outcome;
    } catch (error) {
      messagesNacked.inc({ queue });
      throw error;
    } finally {
      stopTimer();
    }
  };
  void amqp.createSubscriber<Buffer>(
    (body, message) => handle(body ?? Buffer.alloc(0), message as ConsumeMessage),
    {
      queue: consumer.queue,
      createQueueIfNotExists: false,
      deserializer: (content: Buffer) => content,
      errorHandler: consumer.onError,
    },
    consumer.name,
  );
}

/**
 * Stops every consumer of the connection before shutdown, so no new message starts while the ones in hand finish
 * (golevelup's close waits for those, but only cancels consumers made through its channel wrapper).
 */
export async function stopConsuming(amqp: AmqpConnection): Promise<void> {
  await Promise.all(amqp.consumerTags.map((tag) => amqp.cancelConsumer(tag).catch(() => undefined)));
}
