import { INestApplication, Logger } from '@nestjs/common';
import { IngestExecution } from '@purple/checking';
import { SEED_EXECUTION_RESULT_TEXT } from '@purple/checking/testing';
import {
  BrokerNamespace,
  Hold,
  TestDatabase,
  closeConnectionsOf,
  createBrokerNamespace,
  createTestDatabase,
  eventually,
  expectedRole,
  health,
  startTestService,
} from '@purple/testing';
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CalderaConsumerModule } from '../src/app.module';

/**
 * The broker closes the caldera-consumer's connection while a handler is still storing an execution (blocked on a
 * promise the test holds). The handler then finishes on a dead channel: that is logged, nothing is thrown (jest
 * fails a test on an unhandled rejection), the broker redelivers the message, and the execution is stored once.
 */
describe('caldera-consumer when its broker connection closes under a running handler (real broker and database)', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let app: INestApplication;
  let connection: amqp.ChannelModel;
  let sql: Client;

  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    app = await startTestService('caldera-consumer', (env) => CalderaConsumerModule.register(env), broker, db.url);
    await eventually(async () => (await health(app, 'ready')).status === 200);
    connection = await amqp.connect(broker.amqpUrl('caldera_admin'));
    sql = new Client({ connectionString: db.url });
    await sql.connect();
  }, 60_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await sql?.end().catch(() => undefined);
    await app?.close();
    await Promise.all([broker?.dispose(), db?.drop()]);
  }, 60_000);

  it('logs the closed channel, and stores the redelivered execution once', async () => {
    const ingest = app.get(IngestExecution);
    const original = ingest.execute.bind(ingest);
    const hold = new Hold();
    const execute = jest.spyOn(ingest, 'execute').mockImplementationOnce(async (...args) => {
      await hold.promise;
      return original(...args);
    });
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const channel = await connection.createConfirmChannel();
    const messageId = randomUUID();
    await new Promise<void>((resolve, reject) =>
      channel.publish('caldera.checking.exchange', 'caldera.execution.result', Buffer.from(SEED_EXECUTION_RESULT_TEXT), { persistent: true, messageId }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    await eventually(async () => execute.mock.calls.length === 1);

    try {
      expect(await closeConnectionsOf(broker, expectedRole('caldera-consumer', broker).user)).toBeGreaterThan(0);
      // redelivered on the new connection while the first handler still runs
      await eventually(async () => execute.mock.calls.length === 2, 30_000);
    } finally {
      hold.release();
    }
    await eventually(async () => warn.mock.calls.some(([line]) => String(line).includes('the broker will redeliver it')), 20_000);

    const outcomes = await Promise.all(execute.mock.results.map((r) => r.value as ReturnType<IngestExecution['execute']>));
    expect(outcomes.filter((o) => o.created)).toHaveLength(1);
    const { rows } = await sql.query(`SELECT id FROM execution WHERE dedupe_key = $1`, [`message:${messageId}`]);
    expect(rows).toHaveLength(1);
    await eventually(async () => (await channel.checkQueue('caldera.checking.instructions')).messageCount === 0);
    expect((await channel.checkQueue('caldera.checking.instructions.dlq')).messageCount).toBe(0);
  }, 60_000);
});
