import { INestApplication, Logger } from '@nestjs/common';
import { IngestExecution, IngestOutcome } from '@purple/checking';
import { SEED_EXECUTION_RESULT_TEXT, SEED_TASKS, linkResultWithList, seedExecutionResult } from '@purple/checking/testing';
import { referenceLinkResult, referenceLinkResultWithUnusableEntries } from '@purple/contracts/testing';
import { BrokerNamespace, TestDatabase, baseUrl, createBrokerNamespace, createTestDatabase, eventually, health, startTestService } from '@purple/testing';
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { CalderaConsumerModule } from '../src/app.module';

const EXCHANGE = 'caldera.checking.exchange';
const ROUTING_KEY = 'caldera.execution.result';
const DEAD_LETTER_QUEUE = 'caldera.checking.instructions.dlq';

/**
 * The caldera-consumer in-process against the real broker (a namespace of its own) and a database of its own:
 * Caldera's messages published as `caldera_publisher`, exactly as Caldera would.
 */
describe('caldera-consumer (real broker and database)', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let app: INestApplication;
  let sql: Client;
  let publisherConnection: amqp.ChannelModel;
  let publisher: amqp.ConfirmChannel;
  let adminConnection: amqp.ChannelModel;
  let admin: amqp.Channel;

  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    app = await startTestService('caldera-consumer', (env) => CalderaConsumerModule.register(env), broker, db.url);
    await eventually(async () => (await health(app, 'ready')).status === 200);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    publisherConnection = await amqp.connect(broker.amqpUrl('caldera_publisher'));
    publisher = await publisherConnection.createConfirmChannel();
    adminConnection = await amqp.connect(broker.amqpUrl('caldera_admin'));
    admin = await adminConnection.createChannel();
  }, 60_000);

  afterAll(async () => {
    await publisherConnection?.close().catch(() => undefined);
    await adminConnection?.close().catch(() => undefined);
    await sql?.end().catch(() => undefined);
    await app?.close();
    await Promise.all([broker?.dispose(), db?.drop()]);
  }, 60_000);

  afterEach(() => jest.restoreAllMocks());

  /** Publishes as Caldera does: persistent, confirmed by the broker. */
  function publish(body: Buffer | string | object, properties: amqp.Options.Publish = {}): Promise<void> {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    return new Promise((resolve, reject) =>
      publisher.publish(EXCHANGE, ROUTING_KEY, content, { persistent: true, contentType: 'application/json', ...properties }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  const query = async <T>(text: string, params: unknown[] = []) => (await sql.query(text, params)).rows as T[];
  const executionByKey = (dedupeKey: string) =>
    eventually(async () => (await query<Record<string, unknown>>(`SELECT * FROM execution WHERE dedupe_key = $1`, [dedupeKey]))[0]);
  const tasksOf = (executionId: unknown) =>
    query<Record<string, unknown>>(
      `SELECT detection_type, platform, connector, query, status, priority, timeout_seconds, max_attempts
         FROM detection_task WHERE execution_id = $1 AND status <> 'rejected' ORDER BY detection_type DESC, platform DESC`,
      [executionId],
    );

  /** The next message in the instructions' dead-letter queue, read (and removed) as the vhost's admin. */
  const nextDeadLetter = () => eventually(async () => (await admin.get(DEAD_LETTER_QUEUE, { noAck: true })) || null);

  /** Waits until IngestExecution has finished `count` times and gives the outcomes. */
  async function ingestOutcomes(spy: jest.SpyInstance, count: number): Promise<IngestOutcome[]> {
    await eventually(async () => spy.mock.results.length >= count);
    return Promise.all(spy.mock.results.map((r) => r.value as Promise<IngestOutcome>));
  }

  it("stores the seed's example as one operation, one pending execution and its four tasks, logging its correlation id", async () => {
    const logged = jest.spyOn(Logger.prototype, 'log');
    const messageId = randomUUID();
    await publish(SEED_EXECUTION_RESULT_TEXT, { messageId, correlationId: 'corr-seed' });

    const execution = await executionByKey(`message:${messageId}`);
    expect(execution).toMatchObject({
      agent_host: 'target-machine.local',
      agent_paw: 'abc123def456',
      command: 'whoami',
      result: { stdout: 'administrator', stderr: '', exit_code: 0 },
      executed_at: new Date('2024-01-15T10:30:00Z'),
      correlation_id: 'corr-seed',
      verdict: 'pending',
    });
    expect(await query(`SELECT caldera_operation_id FROM operation WHERE id = $1`, [execution['operation_id']])).toEqual([
      { caldera_operation_id: 'op-12345' },
    ]);
    const tasks = await tasksOf(execution['id']);
    expect(tasks).toEqual(
      SEED_TASKS.map((t) => ({ ...t, status: 'pending', priority: 'medium', timeout_seconds: 30, max_attempts: 3 })),
    );
    await eventually(async () =>
      logged.mock.calls.some(
        ([line]) =>
          typeof line === 'object' &&
          (line as Record<string, unknown>)['correlation_id'] === 'corr-seed' &&
          (line as Record<string, unknown>)['execution_id'] === execution['id'],
      ),
    );
  });

  it('stores the link_result shape with a list of detections, keeping ATT&CK data and task settings', async () => {
    await publish(linkResultWithList('link-list-1'), { messageId: randomUUID(), headers: { 'x-correlation-id': 'corr-link' } });
    const execution = await executionByKey('link:link-list-1');
    expect(execution).toMatchObject({
      caldera_link_id: 'link-list-1',
      tactic: 'discovery',
      technique_id: 'T1033',
      technique_name: 'System Owner/User Discovery',
      correlation_id: 'corr-link',
      verdict: 'pending',
    });
    // the same Caldera operation as the seed's example, now with its name
    expect(await query(`SELECT name FROM operation WHERE caldera_operation_id = 'op-12345'`)).toEqual([{ name: 'purple-discovery' }]);
    const pending = { status: 'pending', priority: 'medium', timeout_seconds: 30, max_attempts: 3 };
    expect(await tasksOf(execution['id'])).toEqual([
      { ...SEED_TASKS[0], ...pending, priority: 'high', max_attempts: 2 },
      { ...SEED_TASKS[1], ...pending, timeout_seconds: 120 },
      { ...SEED_TASKS[2], ...pending },
      { ...SEED_TASKS[3], ...pending },
    ]);
  });

  it('creates one execution when the same message is delivered twice', async () => {
    const ingest = jest.spyOn(app.get(IngestExecution), 'execute');
    const messageId = randomUUID();
    const body = { ...seedExecutionResult(), operation_id: 'op-twice' };
    await publish(body, { messageId });
    await publish(body, { messageId });
    // and the same link delivered twice under different message ids
    await publish(linkResultWithList('link-twice'), { messageId: randomUUID() });
    await publish(linkResultWithList('link-twice'), { messageId: randomUUID() });

    const outcomes = await ingestOutcomes(ingest, 4);
    expect(outcomes.filter((o) => o.created)).toHaveLength(2);
    expect(await query(`SELECT count(*)::int AS n FROM execution WHERE dedupe_key IN ($1, 'link:link-twice')`, [`message:${messageId}`])).toEqual([
      { n: 2 },
    ]);
    const [twice] = await query<{ id: string }>(`SELECT id FROM execution WHERE dedupe_key = $1`, [`message:${messageId}`]);
    expect(await tasksOf(twice.id)).toHaveLength(4);
  });

  it('gives an execution without detections the verdict no_detections', async () => {
    const body = seedExecutionResult();
    delete body['detections'];
    const messageId = randomUUID();
    await publish(body, { messageId });
    const execution = await executionByKey(`message:${messageId}`);
    expect(execution['verdict']).toBe('no_detections');
    expect(execution['verdict_at']).toBeInstanceOf(Date);
    expect(await tasksOf(execution['id'])).toEqual([]);
  });

  it('stores an execution whose detection entries are partly unusable: every usable entry a task, each other one rejected with its reason', async () => {
    const messageId = randomUUID();
    await publish(referenceLinkResultWithUnusableEntries(), { messageId });
    const execution = await executionByKey('link:link-uuid-67890');
    expect(execution['verdict']).toBe('pending');
    const tasks = await query<Record<string, unknown>>(
      `SELECT detection_type, platform, connector, status, rejection_reason, completed_at IS NOT NULL AS closed
         FROM detection_task WHERE execution_id = $1 ORDER BY created_at, status, rejection_reason`,
      [execution['id']],
    );
    expect(tasks.filter((t) => t['status'] === 'pending')).toEqual([
      { detection_type: 'api', platform: 'splunk', connector: 'splunk', status: 'pending', rejection_reason: null, closed: false },
    ]);
    const rejected = tasks.filter((t) => t['status'] === 'rejected');
    expect(rejected).toHaveLength(5);
    expect(rejected.every((t) => t['closed'] === true)).toBe(true);
    expect(rejected.map((t) => t['rejection_reason'])).toEqual(
      expect.arrayContaining([
        'detections[1].detection_type must be one of the following values: api, agent, windows, linux, darwin',
        'detections[2].detection_config must contain a non-empty string command (or query)',
        'detections[5] must be an object, got a string',
      ]),
    );
    // nothing was dead-lettered
    expect(await admin.checkQueue(DEAD_LETTER_QUEUE)).toMatchObject({ messageCount: 0 });
    const metrics = await (await fetch(`${await baseUrl(app)}/metrics`)).text();
    expect(Number(/purple_detections_rejected_total\{[^}]*detection_type="api"[^}]*\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
    expect(Number(/purple_detections_rejected_total\{[^}]*detection_type="unknown"[^}]*\} (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(2);
  });

  it('gives an execution whose every entry is unusable the final verdict no_usable_detections', async () => {
    const body = referenceLinkResult([{ detection_type: 'mainframe', detection_platform: 'jcl', detection_config: { command: 'x' } }]);
    (body['execution'] as Record<string, unknown>)['link_id'] = 'link-all-rejected';
    await publish(body, { messageId: randomUUID() });
    const execution = await executionByKey('link:link-all-rejected');
    expect(execution['verdict']).toBe('no_usable_detections');
    expect(execution['verdict_at']).toBeInstanceOf(Date);
  });

  describe('bad input', () => {
    it.each([
      ['broken JSON', Buffer.from('{"operation_id": "op-1", "agent_host": '), /^invalid execution result: invalid JSON: /],
      [
        'a wrong field type',
        { ...seedExecutionResult(), result: { stdout: 'administrator', stderr: '', exit_code: 'zero' } },
        /^invalid execution result: result\.exit_code must be an integer number$/,
      ],
      [
        'an execution without a command',
        { ...seedExecutionResult(), command: undefined },
        /^invalid execution result: command is required$/,
      ],
      [
        'an execution with neither host nor paw',
        { ...seedExecutionResult(), agent_host: '', agent_paw: undefined },
        /^invalid execution result: agent_host should not be empty; agent_paw is required$/,
      ],
      [
        'a 5 MB body',
        Buffer.from(JSON.stringify({ ...seedExecutionResult(), padding: 'x'.repeat(5 * 1024 * 1024) })),
        /^message body is 52\d{5} bytes, over the limit of 1048576 bytes \(MAX_MESSAGE_BYTES\)$/,
      ],
    ])('dead-letters %s with the reason in x-rejection-reason, then takes the next message', async (_what, body, reason) => {
      const messageId = randomUUID();
      await publish(body as Buffer | object, { messageId, correlationId: `corr-${messageId}` });

      const dead = await nextDeadLetter();
      expect(dead.properties.messageId).toBe(messageId);
      expect(dead.properties.correlationId).toBe(`corr-${messageId}`);
      expect(String(dead.properties.headers?.['x-rejection-reason'])).toMatch(reason);
      expect(dead.properties.headers?.['x-original-queue']).toBe('caldera.checking.instructions');
      expect(dead.content.equals(Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body)))).toBe(true);
      expect(await query(`SELECT id FROM execution WHERE dedupe_key = $1`, [`message:${messageId}`])).toEqual([]);

      const next = randomUUID();
      await publish(seedExecutionResult(), { messageId: next });
      await executionByKey(`message:${next}`);
    });
  });
});
