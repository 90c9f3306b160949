import * as amqp from 'amqplib';
import { eventually } from '@purple/testing';
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
});
