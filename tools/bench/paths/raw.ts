import { CHECKING_VHOST } from '@purple/topology';
import { executionResult } from '../messages';
import { Arrivals, now, runClosedLoop } from '../timing';
import { CONSUMER_PREFETCH, connection, publishConfirmed } from './amqp';
import { BenchContext, BenchPath, meanLength } from './path';

const RAW_QUEUE = 'bench.raw';

/**
 * The reference: RabbitMQ alone. An amqplib publisher with confirms → a durable quorum queue → an amqplib consumer
 * acking each message by hand; persistent messages with the same bodies (Caldera's `link_result`, padded) as the
 * ingestion path. Publisher and consumer each have a connection of their own, as separate programs would.
 */
export async function startRawPath(ctx: BenchContext): Promise<BenchPath> {
  // the vhost admin may declare a queue (the apps may not); it goes with the namespace's vhost
  const url = ctx.broker.amqpUrl('caldera_admin', CHECKING_VHOST);
  const consuming = await connection(url, 'raw consumer connection', ctx.cleanup);
  const publishing = await connection(url, 'raw publisher connection', ctx.cleanup);

  const consumer = await consuming.createChannel();
  await consumer.assertQueue(RAW_QUEUE, { durable: true, arguments: { 'x-queue-type': 'quorum' } });
  await consumer.prefetch(CONSUMER_PREFETCH);
  const batches = new Map<string, Arrivals>();
  await consumer.consume(
    RAW_QUEUE,
    (message) => {
      if (!message) return;
      const at = now();
      const [batch, index] = String(message.properties.messageId).split(':');
      batches.get(batch)?.arrive(Number(index), at);
      consumer.ack(message);
    },
    { noAck: false },
  );
  const publisher = await publishing.createConfirmChannel();

  return {
    name: 'raw',
    title: 'raw broker: amqplib → quorum queue → amqplib',
    async runBatch(batch, count) {
      const bodies = Array.from({ length: count }, (_, i) => executionResult(`${ctx.runId}-raw`, `${ctx.runId}-raw-${batch}-${i}`, ctx.options.size));
      const arrivals = new Arrivals(count);
      batches.set(batch, arrivals);
      const sentAt = await runClosedLoop({
        count,
        concurrency: ctx.options.concurrency,
        arrivals,
        send: (i) => publishConfirmed(publisher, '', RAW_QUEUE, bodies[i], { messageId: `${batch}:${i}` }),
        what: 'raw broker',
      }).finally(() => batches.delete(batch));
      return { times: { sentAt, arrivedAt: arrivals.arrivedAt }, duplicates: arrivals.duplicates, messageBytes: meanLength(bodies) };
    },
    async stop() {
      await consuming.close().catch(() => undefined);
      await publishing.close().catch(() => undefined);
    },
  };
}
