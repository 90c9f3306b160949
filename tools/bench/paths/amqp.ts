import * as amqp from 'amqplib';
import type { Cleanup } from '../cleanup';

/** The consumers' prefetch, the apps' default (MessagingModule), so the raw consumer is held to the same window. */
export const CONSUMER_PREFETCH = 10;

/** A connection closed by the run's cleanup; its errors are logged, never thrown at the process. */
export async function connection(url: string, what: string, cleanup: Cleanup): Promise<amqp.ChannelModel> {
  const model = await amqp.connect(url);
  model.on('error', () => undefined);
  cleanup.add(what, () => model.close().catch(() => undefined));
  return model;
}

/** Publishes persistent, resolving on the broker's confirm and rejecting on its nack. */
export function publishConfirmed(
  channel: amqp.ConfirmChannel,
  exchange: string,
  routingKey: string,
  body: Buffer,
  options: amqp.Options.Publish,
): Promise<void> {
  return new Promise((resolve, reject) => {
    channel.publish(exchange, routingKey, body, { persistent: true, contentType: 'application/json', ...options }, (err) =>
      err ? reject(new Error(`the broker did not confirm message ${options.messageId ?? ''} (nack)`)) : resolve(),
    );
  });
}
