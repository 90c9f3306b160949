import { INestApplication } from '@nestjs/common';
import { IngestExecution } from '@purple/checking';
import { detectionResponse, seedExecutionResult } from '@purple/checking/testing';
import { normaliseExecution, parseExecutionMessage } from '@purple/contracts';
import {
  BrokerNamespace,
  TcpProxy,
  TestDatabase,
  createBrokerNamespace,
  createTestDatabase,
  eventually,
  health,
  startTestService,
} from '@purple/testing';
import * as amqp from 'amqplib';
import type { ConsumeMessage } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { ResultConsumerModule } from '../src/app.module';
import { DeadLetterQueuesConsumer } from '../src/dead-letters/dead-letter-queues.consumer';
import { ResponsesConsumer } from '../src/results/responses.consumer';

const EXCHANGE = 'caldera.checking.exchange';
const DLX = 'caldera.checking.dlx';
const INSTRUCTIONS = 'caldera.checking.instructions';

/**
 * The result-consumer while PostgreSQL is unreachable (reached through a proxy the test cuts; the shared server is
 * never stopped): responses and dead letters wait, none is redelivered or dead-lettered, readiness says why, and each
 * is recorded once when the database is back.
 */
describe('result-consumer while the database is unreachable (real broker and database, through a proxy)', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let proxy: TcpProxy;
  let app: INestApplication;
  let connection: amqp.ChannelModel;
  let sql: Client;
  const seen: ConsumeMessage[] = [];

  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    const server = new URL(db.url);
    proxy = await TcpProxy.start({ host: server.hostname, port: Number(server.port || 5432) });
    app = await startTestService('result-consumer', (env) => ResultConsumerModule.register(env), broker, proxy.route(db.url));
    await eventually(async () => (await health(app, 'ready')).status === 200);
    const responses = app.get(ResponsesConsumer);
    const record = responses.record.bind(responses);
    jest.spyOn(responses, 'record').mockImplementation((message) => (seen.push(message), record(message)));
    const deadLetters = app.get(DeadLetterQueuesConsumer);
    const keep = deadLetters.keep.bind(deadLetters);
    jest.spyOn(deadLetters, 'keep').mockImplementation((delivery, queue) => (seen.push(delivery.message), keep(delivery, queue)));
    connection = await amqp.connect(broker.amqpUrl('caldera_admin'));
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  }, 60_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await sql?.end().catch(() => undefined);
    await app?.close();
    await proxy?.close();
    await Promise.all([broker?.dispose(), db?.drop()]);
  }, 60_000);

  it('pauses, says why, does not redeliver, and records every response and dead letter once it is back', async () => {
    const parsed = parseExecutionMessage({ ...seedExecutionResult(), operation_id: 'op-outage' });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const stored = await app.get(IngestExecution).execute(normaliseExecution(parsed.value), { dedupeKey: 'message:op-outage', correlationId: 'corr-outage' });
    const tasks = (await sql.query(`SELECT id, platform FROM detection_task WHERE execution_id = $1`, [stored.executionId])).rows as Array<{
      id: string;
      platform: string;
    }>;
    const channel = await connection.createConfirmChannel();
    const publish = (exchange: string, routingKey: string, body: Buffer, options: amqp.Options.Publish) =>
      new Promise<void>((resolve, reject) =>
        channel.publish(exchange, routingKey, body, { persistent: true, messageId: randomUUID(), ...options }, (err) => (err ? reject(err) : resolve())),
      );

    proxy.cut();
    const taskOn = (platform: string) => {
      const task = tasks.find((t) => t.platform === platform);
      if (!task) throw new Error(`the seed has no ${platform} task`);
      return task;
    };
    const siem = taskOn('siem');
    const edr = taskOn('edr');
    await publish(EXCHANGE, 'checking.api.response', Buffer.from(JSON.stringify(detectionResponse({ taskId: siem.id, status: 'detected' }))), {});
    await publish(EXCHANGE, 'checking.api.response', Buffer.from(JSON.stringify(detectionResponse({ taskId: edr.id, platform: 'edr', status: 'not_detected' }))), {});
    await publish(DLX, INSTRUCTIONS, Buffer.from('{"broken'), {
      messageId: 'outage-dead-letter',
      headers: { 'x-rejection-reason': 'invalid execution result: invalid JSON', 'x-original-queue': INSTRUCTIONS },
    });

    const ready = await eventually(async () => {
      const h = await health(app, 'ready');
      return h.body.checks?.['database'] === 'database unreachable: consumption paused' ? h : null;
    }, 20_000);
    expect(ready.status).toBe(503);
    const refused = proxy.refused;
    await eventually(async () => proxy.refused >= refused + 5, 30_000);
    const redelivered = () => seen.filter((m) => m.fields.redelivered || Number(m.properties.headers?.['x-delivery-count'] ?? 0) > 0);
    expect(redelivered()).toHaveLength(0);
    expect(new Set(seen.map((m) => m.properties.messageId)).size).toBe(seen.length);
    expect((await channel.checkQueue('caldera.checking.api.responses.dlq')).messageCount).toBe(0);

    proxy.restore();
    const results = async () => (await sql.query(`SELECT count(*)::int AS n FROM detection_result WHERE task_id = ANY($1)`, [[siem.id, edr.id]])).rows[0].n;
    await eventually(async () => (await results()) === 2, 30_000);
    const deadLetters = async () => (await sql.query(`SELECT count(*)::int AS n FROM dead_letter WHERE message_id = 'outage-dead-letter'`)).rows[0].n;
    await eventually(async () => (await deadLetters()) === 1, 30_000);
    await eventually(async () => (await health(app, 'ready')).status === 200, 10_000);
    expect(redelivered()).toHaveLength(0);
    expect(await results()).toBe(2);
    expect((await channel.checkQueue('caldera.checking.api.responses')).messageCount).toBe(0);
    expect((await channel.checkQueue('caldera.checking.api.responses.dlq')).messageCount).toBe(0);
    expect((await channel.checkQueue(`${INSTRUCTIONS}.dlq`)).messageCount).toBe(0);
  }, 120_000);
});
