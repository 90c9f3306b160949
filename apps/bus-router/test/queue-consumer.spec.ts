import * as amqp from 'amqplib';
import { Logger } from '@nestjs/common';
import { Hold, closeConnectionsOf, eventually } from '@purple/testing';
import { SOAR_EXCHANGES, SOAR_VHOST, clientQueues } from '@purple/topology';
import { ACK, Delivery } from '@purple/messaging';
import { ConnectionSource, QueueConsumer } from '@purple/messaging';
import { BusTestBed } from './support';

/** How many messages a consumer holds at once, on the real broker, as the router's user. */
describe('QueueConsumer prefetch (real broker)', () => {
  const sender = 'pipelined-sender';
  const outbox = clientQueues(sender).outbox;
  let bed: BusTestBed;
  let connection: amqp.ChannelModel;
  const source: ConnectionSource = { connect: async () => connection };
  const options = (prefetch: number) => ({
    queue: outbox,
    deadLetterExchange: SOAR_EXCHANGES.dlx,
    deadLetterRoutingKey: sender,
    retryBaseMs: 50,
    retryMaxMs: 200,
    prefetch,
  });
  const indexOf = (delivery: Delivery) => (JSON.parse(delivery.message.content.toString()) as { message: { i: number } }).message.i;

  beforeAll(async () => {
    bed = await BusTestBed.create();
    await bed.createQueues(sender, 'soar.pipelined.#');
    connection = await amqp.connect(bed.broker.amqpUrl('soar_router', SOAR_VHOST));
  }, 60_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await bed?.dispose();
  }, 60_000);

  async function sendMany(count: number): Promise<void> {
    await Promise.all(Array.from({ length: count }, (_, i) => bed.send(sender, { topic: 'soar.pipelined.x', message: { i } })));
  }

  it('with a prefetch above 1, starts each handler as its message arrives, in order, before the earlier ones settle', async () => {
    await sendMany(10);
    const started: number[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const consumer = new QueueConsumer(source, options(50), async (delivery) => {
      started.push(indexOf(delivery));
      await gate;
      return ACK;
    });
    consumer.start();
    try {
      // all ten in hand at once, none settled
      await eventually(async () => started.length === 10, 10_000);
      expect(started).toEqual([...Array(10).keys()]);
      release();
    } finally {
      await consumer.stop();
    }
    expect(await bed.depth(outbox)).toBe(0);
  });

  it('with a prefetch of 1, settles each message before the next one starts', async () => {
    await sendMany(3);
    const started: number[] = [];
    let release: () => void = () => undefined;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const consumer = new QueueConsumer(source, options(1), async (delivery) => {
      started.push(indexOf(delivery));
      await gate;
      return ACK;
    });
    consumer.start();
    try {
      await eventually(async () => started.length === 1, 10_000);
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(started).toEqual([0]);
      release();
      await eventually(async () => started.length === 3, 10_000);
      expect(started).toEqual([0, 1, 2]);
    } finally {
      await consumer.stop();
    }
    expect(await bed.depth(outbox)).toBe(0);
  });

  it('logs a channel that closed under a running handler instead of throwing, and consumes the redelivery at once', async () => {
    // a source that reconnects, as the app's connection manager does
    const url = bed.broker.amqpUrl('soar_router', SOAR_VHOST);
    let current: amqp.ChannelModel | undefined;
    const reconnecting: ConnectionSource = {
      connect: async () => {
        if (!current) {
          current = await amqp.connect(url);
          current.on('error', () => undefined);
          current.on('close', () => (current = undefined));
        }
        return current;
      },
    };
    await sendMany(1);
    const hold = new Hold();
    const deliveries: amqp.ConsumeMessage[] = [];
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const consumer = new QueueConsumer(reconnecting, options(1), async (delivery) => {
      deliveries.push(delivery.message);
      if (deliveries.length === 1) await hold.promise;
      return ACK;
    });
    consumer.start();
    try {
      await eventually(async () => deliveries.length === 1, 10_000);
      // the test's own connection as soar_router is the one in use here; the router app is not running
      await connection.close();
      expect(await closeConnectionsOf(bed.broker, 'soar_router')).toBeGreaterThan(0);
      // the consumer did not wait for the handler still running on the dead channel
      await eventually(async () => deliveries.length === 2, 20_000);
      expect(deliveries[1].fields.redelivered).toBe(true);
      hold.release();
      await eventually(async () => warn.mock.calls.some(([line]) => String(line).includes('the broker will redeliver it')), 10_000);
      await eventually(async () => (await bed.depth(outbox)) === 0, 10_000);
    } finally {
      hold.release();
      await consumer.stop();
      warn.mockRestore();
      await current?.close().catch(() => undefined);
      connection = await amqp.connect(bed.broker.amqpUrl('soar_router', SOAR_VHOST));
    }
    expect(deliveries).toHaveLength(2);
    expect(await bed.depth(outbox)).toBe(0);
  });
});
