import { INestApplication } from '@nestjs/common';
import { IngestExecution } from '@purple/checking';
import { SEED_EXECUTION_RESULT_TEXT } from '@purple/checking/testing';
import { dropDatabase, ensureDatabase, runMigrations } from '@purple/persistence';
import { BrokerNamespace, TEST_DATABASE_SERVER, createBrokerNamespace, eventually, startTestService } from '@purple/testing';
import * as amqp from 'amqplib';
import { randomBytes, randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CalderaConsumerModule } from '../src/app.module';

const EXCHANGE = 'caldera.checking.exchange';
const ROUTING_KEY = 'caldera.execution.result';

/**
 * While PostgreSQL is unavailable an execution result is neither acked nor dead-lettered: it goes back to the
 * queue after a pause, and is stored once the database is there.
 */
describe('caldera-consumer while the database is down (real broker and database)', () => {
  let broker: BrokerNamespace;
  let app: INestApplication;
  let connection: amqp.ChannelModel;
  const databaseUrl = `${TEST_DATABASE_SERVER}/t_${randomBytes(6).toString('hex')}`;

  beforeAll(async () => {
    broker = await createBrokerNamespace();
    // the database does not exist yet: the app keeps trying to connect
    app = await startTestService('caldera-consumer', (env) => CalderaConsumerModule.register(env), broker, databaseUrl, {
      RETRY_MAX_DELAY_MS: '1000',
    });
    connection = await amqp.connect(broker.amqpUrl('caldera_admin'));
  }, 60_000);

  afterAll(async () => {
    await connection?.close().catch(() => undefined);
    await app?.close();
    await Promise.all([broker?.dispose(), dropDatabase(databaseUrl)]);
  }, 60_000);

  it('keeps the message until it can be stored, then stores it once', async () => {
    const attempts = jest.spyOn(app.get(IngestExecution), 'execute');
    const channel = await connection.createConfirmChannel();
    const messageId = randomUUID();
    await new Promise<void>((resolve, reject) =>
      channel.publish(EXCHANGE, ROUTING_KEY, Buffer.from(SEED_EXECUTION_RESULT_TEXT), { persistent: true, messageId }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
    // the consumer takes it, cannot store it, and hands it back: it is delivered again and again, never dead-lettered
    await eventually(async () => attempts.mock.results.length >= 2, 20_000);
    await expect(attempts.mock.results[0].value).rejects.toThrow('database not connected');
    expect((await channel.checkQueue('caldera.checking.instructions.dlq')).messageCount).toBe(0);

    await ensureDatabase(databaseUrl);
    await runMigrations(databaseUrl);

    const sql = new Client({ connectionString: databaseUrl });
    await sql.connect();
    try {
      const executions = await eventually(async () => {
        const { rows } = await sql.query(`SELECT id FROM execution WHERE dedupe_key = $1`, [`message:${messageId}`]);
        return rows.length > 0 ? rows : null;
      }, 30_000);
      expect(executions).toHaveLength(1);
      expect((await sql.query(`SELECT id FROM detection_task WHERE execution_id = $1`, [executions[0].id])).rows).toHaveLength(4);
      expect((await channel.checkQueue('caldera.checking.instructions.dlq')).messageCount).toBe(0);
    } finally {
      await sql.end();
    }
  }, 60_000);
});
