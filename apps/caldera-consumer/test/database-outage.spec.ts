import { INestApplication } from '@nestjs/common';
import { SEED_EXECUTION_RESULT_TEXT } from '@purple/checking/testing';
import { dropDatabase, ensureDatabase, runMigrations } from '@purple/persistence';
import {
  BrokerNamespace,
  TEST_DATABASE_SERVER,
  TcpProxy,
  createBrokerNamespace,
  eventually,
  health,
  startTestService,
} from '@purple/testing';
import * as amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CalderaConsumerModule } from '../src/app.module';
import { InstructionsConsumer } from '../src/ingest/instructions.consumer';

const EXCHANGE = 'caldera.checking.exchange';
const ROUTING_KEY = 'caldera.execution.result';
const QUEUE = 'caldera.checking.instructions';
const DLQ = 'caldera.checking.instructions.dlq';

/**
 * While PostgreSQL is unreachable the consumer takes no more messages: the one that met the outage is kept in hand
 * (never returned, so its delivery count does not climb toward the queue's delivery-limit), the others wait in the
 * queue, readiness says why, and everything is stored once when the database answers again. The app reaches
 * PostgreSQL through a proxy the test cuts: the shared server is never stopped.
 */
describe('caldera-consumer while the database is unreachable (real broker and database, through a proxy)', () => {
  let broker: BrokerNamespace;
  let app: INestApplication;
  let proxy: TcpProxy;
  let connection: amqp.ChannelModel;
  let channel: amqp.ConfirmChannel;
  let sql: Client;
  /** what the consumer's handler was given, in order */
  const seen: ConsumeMessage[] = [];
  const databaseUrl = `${TEST_DATABASE_SERVER}/t_${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    broker = await createBrokerNamespace();
    const server = new URL(databaseUrl);
    proxy = await TcpProxy.start({ host: server.hostname, port: Number(server.port || 5432) });
    // the database does not exist yet: the app keeps trying to connect
    app = await startTestService('caldera-consumer', (env) => CalderaConsumerModule.register(env), broker, proxy.route(databaseUrl));
    const consumer = app.get(InstructionsConsumer);
    const handle = consumer.onExecutionResult.bind(consumer);
    jest.spyOn(consumer, 'onExecutionResult').mockImplementation((body, message) => {
      seen.push(message);
      return handle(body, message);
    });
    connection = await amqp.connect(broker.amqpUrl('caldera_admin'));
    channel = await connection.createConfirmChannel();
    sql = new Client({ connectionString: databaseUrl });
  }, 60_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await sql?.end().catch(() => undefined);
    await app?.close();
    await proxy?.close();
    await Promise.all([broker?.dispose(), dropDatabase(databaseUrl)]);
  }, 60_000);

  const publish = (messageId: string) =>
    new Promise<void>((resolve, reject) =>
      channel.publish(EXCHANGE, ROUTING_KEY, Buffer.from(SEED_EXECUTION_RESULT_TEXT), { persistent: true, messageId }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  const stored = async (messageIds: string[]) =>
    (await sql.query(`SELECT dedupe_key FROM execution WHERE dedupe_key = ANY($1)`, [messageIds.map((id) => `message:${id}`)])).rows;
  const depth = async (queue: string) => (await channel.checkQueue(queue)).messageCount;
  /** the deliveries the handler saw that the broker had given out before (a requeue, a closed channel) */
  const redeliveries = () => seen.filter((m) => m.fields.redelivered || Number(m.properties.headers?.['x-delivery-count'] ?? 0) > 0);

  it('takes nothing before the database exists, then stores what waited, once', async () => {
    const messageId = randomUUID();
    await publish(messageId);
    // the app has tried, and failed, to connect (through the proxy) more than once meanwhile
    const tried = proxy.accepted;
    await eventually(async () => proxy.accepted >= tried + 2, 20_000);
    expect(seen).toHaveLength(0);
    expect(await depth(QUEUE)).toBe(1);
    expect((await health(app, 'ready')).body.checks?.['database']).toBe('not connected');

    await ensureDatabase(databaseUrl);
    await runMigrations(databaseUrl);
    await sql.connect();
    await eventually(async () => (await stored([messageId])).length === 1, 30_000);
    expect(seen).toHaveLength(1);
    expect(await depth(DLQ)).toBe(0);
    await eventually(async () => (await health(app, 'ready')).status === 200, 10_000);
  }, 60_000);

  it('pauses while the database is cut off, says why, does not redeliver, and stores everything once it is back', async () => {
    const before = seen.length;
    const messageIds = Array.from({ length: 5 }, () => randomUUID());
    proxy.cut();
    for (const id of messageIds) await publish(id);

    const ready = await eventually(async () => {
      const h = await health(app, 'ready');
      return h.body.checks?.['database'] === 'database unreachable: consumption paused' ? h : null;
    }, 20_000);
    expect(ready.status).toBe(503);
    // several probes over several seconds of outage: long enough for the old requeue loop to have spun
    const refused = proxy.refused;
    await eventually(async () => proxy.refused >= refused + 5, 30_000);
    const duringOutage = seen.slice(before);
    // each message taken at most once, and only the first (others wait in hand or in the queue)
    expect(new Set(duringOutage.map((m) => m.properties.messageId)).size).toBe(duringOutage.length);
    expect(duringOutage.length).toBeGreaterThanOrEqual(1);
    expect(redeliveries()).toHaveLength(0);
    expect(await depth(DLQ)).toBe(0);
    expect(await stored(messageIds)).toHaveLength(0);

    proxy.restore();
    await eventually(async () => (await stored(messageIds)).length === messageIds.length, 30_000);
    expect(await stored(messageIds)).toHaveLength(messageIds.length);
    await eventually(async () => (await health(app, 'ready')).status === 200, 10_000);
    // nothing was returned to the queue, so no delivery counted toward the delivery-limit; nothing dead-lettered
    expect(redeliveries()).toHaveLength(0);
    expect(await depth(QUEUE)).toBe(0);
    expect(await depth(DLQ)).toBe(0);
    const rows = await sql.query(`SELECT count(*)::int AS n FROM execution`);
    expect(rows.rows[0].n).toBe(1 + messageIds.length);
  }, 90_000);
});
