import * as amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { BrokerNamespace, createBrokerNamespace } from '@purple/testing';
import { CHECKING_EXCHANGE, CHECKING_QUEUES, ROUTING_KEYS } from '@purple/topology';

/**
 * Why the consumer runtime keeps a message in hand while its database is down, rather than returning it: on this
 * broker every way of handing a message back to a quorum queue counts toward its `delivery-limit`. Measured on the
 * real broker, on a working queue of a namespace of its own (no app consumes it).
 */
describe('how the broker counts returns to a quorum queue (x-delivery-count)', () => {
  let broker: BrokerNamespace;
  let connection: amqp.ChannelModel;

  beforeAll(async () => {
    broker = await createBrokerNamespace();
  }, 60_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await broker?.dispose();
  }, 60_000);

  const connect = () => amqp.connect(broker.amqpUrl('caldera_admin', '/caldera_checking'));
  const count = (message: ConsumeMessage) => Number(message.properties.headers?.['x-delivery-count'] ?? 0);

  /** the next delivery of the queue's one message, on a new channel, left unacked */
  async function take(on: amqp.ChannelModel): Promise<{ channel: amqp.Channel; message: ConsumeMessage; consumerTag: string }> {
    const channel = await on.createChannel();
    await channel.prefetch(1);
    let consumerTag = '';
    const message = await new Promise<ConsumeMessage>((resolve) => {
      void channel.consume(CHECKING_QUEUES.apiResponses, (m) => m && resolve(m)).then((ok) => (consumerTag = ok.consumerTag));
    });
    return { channel, message, consumerTag };
  }

  it('counts a nack with requeue, a cancelled consumer whose channel closes, a closed channel and a closed connection', async () => {
    const { version } = await broker.management().overview().then((o) => ({ version: o.rabbitmq_version }));
    connection = await connect();
    const publisher = await connection.createConfirmChannel();
    await new Promise<void>((resolve, reject) =>
      publisher.publish(CHECKING_EXCHANGE, ROUTING_KEYS.apiResponse, Buffer.from('{}'), { persistent: true }, (e) => (e ? reject(e) : resolve())),
    );
    const counts: Record<string, number> = {};

    let held = await take(connection);
    counts['first delivery'] = count(held.message);
    // cancelled first, so the requeued message is not given straight back to this channel
    await held.channel.cancel(held.consumerTag);
    held.channel.nack(held.message, false, true);
    await held.channel.close();

    held = await take(connection);
    counts['after nack(requeue)'] = count(held.message);
    await held.channel.cancel(held.consumerTag);
    await held.channel.close();

    held = await take(connection);
    counts['after cancel, then channel close'] = count(held.message);
    await held.channel.close();

    held = await take(connection);
    counts['after channel close'] = count(held.message);
    await connection.close();

    connection = await connect();
    held = await take(connection);
    counts['after connection close'] = count(held.message);
    held.channel.ack(held.message);

    console.log(`RabbitMQ ${version}: x-delivery-count ${JSON.stringify(counts)}`);
    expect(counts).toEqual({
      'first delivery': 0,
      'after nack(requeue)': 1,
      'after cancel, then channel close': 2,
      'after channel close': 3,
      'after connection close': 4,
    });
  }, 60_000);
});
