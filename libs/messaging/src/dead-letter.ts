import type { Channel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { messagesDeadLettered, reasonCategory } from './metrics';

/** Header carrying why the app dead-lettered a message (RabbitMQ's own `x-death` only says "rejected"). */
export const REJECTION_REASON_HEADER = 'x-rejection-reason';
const MAX_REASON_LENGTH = 1000;

/**
 * golevelup error handler for messages consumed from `queue`: republish the message to the dead-letter exchange,
 * routed by the queue's name to its dead-letter queue, with the reason in a header; wait for the broker's
 * confirm, then ack. If that fails, nack without requeue and the queue's dead-letter policy still catches it.
 * Never requeue: a poison message must not loop.
 */
export function deadLetterWithReason(deadLetterExchange: string, queue: string) {
  return async (channel: Channel, msg: ConsumeMessage, error: unknown): Promise<void> => {
    const reason = String(error instanceof Error ? error.message : error).slice(0, MAX_REASON_LENGTH);
    try {
      await new Promise<void>((resolve, reject) => {
        // golevelup consumes on confirm channels, so the callback is the broker's confirm
        (channel as ConfirmChannel).publish(
          deadLetterExchange,
          queue,
          msg.content,
          {
            ...msg.properties,
            persistent: true,
            headers: {
              ...msg.properties.headers,
              [REJECTION_REASON_HEADER]: reason,
              'x-original-exchange': msg.fields.exchange,
              'x-original-routing-key': msg.fields.routingKey,
              'x-original-queue': queue,
            },
          },
          (err: unknown) => (err ? reject(err) : resolve()),
        );
      });
      channel.ack(msg);
      messagesDeadLettered.inc({ queue, reason: reasonCategory(reason) });
    } catch {
      channel.nack(msg, false, false);
    }
  };
}
