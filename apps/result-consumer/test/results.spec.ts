import { INestApplication, Logger } from '@nestjs/common';
import {
  DeadLetterSummary,
  IngestExecution,
  ListDeadLetters,
  RecordDeadLetter,
  RecordDetectionResult,
  RecordOutcome,
  ReplayDeadLetter,
  ReplayRejectedError,
} from '@purple/checking';
import { ResponseOptions, detectionResponse, seedExecutionResult } from '@purple/checking/testing';
import { normaliseExecution, parseExecutionMessage } from '@purple/contracts';
import {
  BrokerNamespace,
  Hold,
  TestDatabase,
  baseUrl,
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
import { ResultConsumerModule } from '../src/app.module';

const EXCHANGE = 'caldera.checking.exchange';
const DLX = 'caldera.checking.dlx';
const INSTRUCTIONS = 'caldera.checking.instructions';

/**
 * The result-consumer in-process against the real broker (a namespace of its own) and a database of its own:
 * responses published as `checking_worker`, exactly as the workers do; dead letters put where the other
 * consumers (and the broker itself) put them.
 */
describe('result-consumer (real broker and database)', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let app: INestApplication;
  let sql: Client;
  const connections: amqp.ChannelModel[] = [];
  let worker: amqp.ConfirmChannel;

  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    app = await startTestService('result-consumer', (env) => ResultConsumerModule.register(env), broker, db.url);
    await eventually(async () => (await health(app, 'ready')).status === 200);
    sql = new Client({ connectionString: db.url });
    await sql.connect();
    worker = await confirmChannelAs('checking_worker');
  }, 60_000);

  afterAll(async () => {
    await Promise.all(connections.map((c) => c.close().catch(() => undefined)));
    await sql?.end().catch(() => undefined);
    await app?.close();
    await Promise.all([broker?.dispose(), db?.drop()]);
  }, 60_000);

  afterEach(() => jest.restoreAllMocks());

  async function confirmChannelAs(user: string): Promise<amqp.ConfirmChannel> {
    const connection = await amqp.connect(broker.amqpUrl(user));
    connections.push(connection);
    return connection.createConfirmChannel();
  }

  function publish(channel: amqp.ConfirmChannel, exchange: string, routingKey: string, body: Buffer | object, options: amqp.Options.Publish = {}) {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(JSON.stringify(body));
    return new Promise<void>((resolve, reject) =>
      channel.publish(exchange, routingKey, content, { persistent: true, contentType: 'application/json', ...options }, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }

  /** A worker's answer, on the response routing key of its detection type. */
  const respond = (options: ResponseOptions, properties: amqp.Options.Publish = {}) =>
    publish(worker, EXCHANGE, `checking.${options.detectionType ?? 'api'}.response`, detectionResponse(options), {
      messageId: randomUUID(),
      ...properties,
    });

  const query = async <T>(text: string, params: unknown[] = []) => (await sql.query(text, params)).rows as T[];

  /** The seed's example stored as the caldera-consumer stores it; its task ids by platform. */
  async function ingestSeed(operationId: string) {
    const parsed = parseExecutionMessage({ ...seedExecutionResult(), operation_id: operationId });
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    const stored = await app.get(IngestExecution).execute(normaliseExecution(parsed.value), {
      dedupeKey: `message:${operationId}`,
      correlationId: `corr-${operationId}`,
    });
    const tasks = await query<{ id: string; platform: string }>(`SELECT id, platform FROM detection_task WHERE execution_id = $1`, [
      stored.executionId,
    ]);
    return { executionId: stored.executionId, task: Object.fromEntries(tasks.map((t) => [t.platform, t.id])) };
  }

  const execution = async (id: string) =>
    (await query<{ verdict: string; detection_latency_ms: string | null; verdict_at: Date | null }>(
      `SELECT verdict, detection_latency_ms, verdict_at FROM execution WHERE id = $1`,
      [id],
    ))[0];
  const verdictOf = (id: string, verdict: string) => eventually(async () => ((await execution(id)).verdict === verdict ? execution(id) : null));
  const tasksOf = (executionId: string) =>
    query<{ platform: string; status: string; last_error: string | null }>(
      `SELECT platform, status, last_error FROM detection_task WHERE execution_id = $1 ORDER BY platform`,
      [executionId],
    );

  /** The dead letter that appears (from any of the five dead-letter queues) matching `match`. */
  const deadLetterWhere = (match: (d: DeadLetterSummary) => boolean) =>
    eventually(async () => (await app.get(ListDeadLetters).execute({ limit: 500 })).items.find(match));

  it('records four answers, rolls the execution up to detected with its latency, and stores a redelivery once', async () => {
    const recorded = jest.spyOn(app.get(RecordDetectionResult), 'execute');
    const { executionId, task } = await ingestSeed('op-detected');
    await respond({ taskId: task['siem'], status: 'detected', eventTimes: ['2024-01-15T10:30:42Z'] });
    await respond({ taskId: task['edr'], status: 'not_detected', platform: 'edr' });
    await respond({ taskId: task['windows'], status: 'not_detected', detectionType: 'agent', platform: 'windows' });
    await respond({ taskId: task['linux'], status: 'not_detected', detectionType: 'agent', platform: 'linux' });
    // the same answer delivered again
    await respond({ taskId: task['siem'], status: 'detected', eventTimes: ['2024-01-15T10:30:42Z'] });

    await eventually(async () => recorded.mock.results.length >= 5);
    const outcomes = await Promise.all(recorded.mock.results.map((r) => r.value as Promise<RecordOutcome>));
    expect(outcomes.filter((o) => !o.stored).map((o) => o.taskId)).toEqual([task['siem']]);
    expect(await query(`SELECT count(*)::int AS n FROM detection_result WHERE task_id = ANY($1)`, [Object.values(task)])).toEqual([{ n: 4 }]);

    const row = await verdictOf(executionId, 'detected');
    expect(row.detection_latency_ms).toBe('42000');
    expect(row.verdict_at).toBeInstanceOf(Date);
    expect((await tasksOf(executionId)).map((t) => t.status)).toEqual(['completed', 'completed', 'completed', 'completed']);
  });

  /** One metric's samples from the app's /metrics, each with its labels (the app's default label included). */
  async function scrape(metric: string): Promise<Array<{ labels: Record<string, string>; value: number }>> {
    const text = await (await fetch(`${await baseUrl(app)}/metrics`)).text();
    return text
      .split('\n')
      .filter((line) => line.startsWith(`${metric}{`))
      .map((line) => {
        const [, labelText, value] = /^[^{]+\{(.*)\} (\S+)$/.exec(line) ?? [];
        return { labels: Object.fromEntries([...labelText.matchAll(/(\w+)="([^"]*)"/g)].map((m) => [m[1], m[2]])), value: Number(value) };
      });
  }
  /** The sample of `metric` whose labels include `labels` (0 when there is none yet). */
  const sample = async (metric: string, labels: Record<string, string>) =>
    (await scrape(metric)).find((s) => Object.entries(labels).every(([k, v]) => s.labels[k] === v))?.value ?? 0;

  it('observes dispatch → stored result in purple_task_processing_seconds once per attempt, by detection type and platform', async () => {
    const recorded = jest.spyOn(app.get(RecordDetectionResult), 'execute');
    const { task } = await ingestSeed('op-processing');
    // as the dispatcher marks them: siem and windows dispatched 90 s ago; edr's attempt 2 dispatched 10 s ago;
    // linux never dispatched
    const dispatch = (id: string, attempt: number, secondsAgo: number) =>
      query(
        `UPDATE detection_task SET status = 'dispatched', attempts = $2, dispatched_at = now() - make_interval(secs => $3) WHERE id = $1`,
        [id, attempt, secondsAgo],
      );
    await dispatch(task['siem'], 1, 90);
    await dispatch(task['windows'], 1, 90);
    await dispatch(task['edr'], 2, 10);
    const api = { detection_type: 'api', platform: 'siem', app: 'result-consumer' };
    const agent = { detection_type: 'agent', platform: 'windows', app: 'result-consumer' };
    const count = 'purple_task_processing_seconds_count';
    const [apiBefore, agentBefore, edrBefore, linuxBefore] = await Promise.all([
      sample(count, api),
      sample(count, agent),
      sample(count, { platform: 'edr' }),
      sample(count, { platform: 'linux' }),
    ]);
    const apiBucketsBefore = await Promise.all(['60', '120'].map((le) => sample('purple_task_processing_seconds_bucket', { ...api, le })));

    await respond({ taskId: task['siem'], status: 'not_detected' });
    await respond({ taskId: task['windows'], status: 'not_detected', detectionType: 'agent', platform: 'windows' });
    // a late answer to edr's first attempt: its dispatched_at is attempt 2's
    await respond({ taskId: task['edr'], status: 'not_detected', platform: 'edr', attempt: 1 });
    await respond({ taskId: task['linux'], status: 'not_detected', detectionType: 'agent', platform: 'linux' });
    // siem's answer delivered again
    await respond({ taskId: task['siem'], status: 'not_detected' });

    await eventually(async () => recorded.mock.results.length >= 5);
    const outcomes = await Promise.all(recorded.mock.results.map((r) => r.value as Promise<RecordOutcome>));
    expect(outcomes.filter((o) => o.stored)).toHaveLength(4);

    expect(await sample(count, api)).toBe(apiBefore + 1);
    expect(await sample(count, agent)).toBe(agentBefore + 1);
    expect(await sample(count, { platform: 'edr' })).toBe(edrBefore);
    expect(await sample(count, { platform: 'linux' })).toBe(linuxBefore);
    // 90 s and a little: above the 60 s bucket, within the 120 s one
    const apiBucketsAfter = await Promise.all(['60', '120'].map((le) => sample('purple_task_processing_seconds_bucket', { ...api, le })));
    expect(apiBucketsAfter).toEqual([apiBucketsBefore[0], apiBucketsBefore[1] + 1]);
  });

  it('rolls up to not_detected once every task answered not detected', async () => {
    const { executionId, task } = await ingestSeed('op-not-detected');
    await respond({ taskId: task['siem'], status: 'not_detected' });
    await respond({ taskId: task['edr'], detected: false, platform: 'edr' });
    await respond({ taskId: task['windows'], status: 'not_detected', detectionType: 'agent', platform: 'windows' });
    expect((await execution(executionId)).verdict).not.toBe('not_detected');
    await respond({ taskId: task['linux'], status: 'not_detected', detectionType: 'agent', platform: 'linux' });
    const row = await verdictOf(executionId, 'not_detected');
    expect(row.detection_latency_ms).toBeNull();
  });

  it('rolls up to error when a connector failed or no connector exists, keeping why', async () => {
    const { executionId, task } = await ingestSeed('op-error');
    await respond({ taskId: task['siem'], status: 'error', error: 'splunk: 401 unauthorized' });
    await respond({ taskId: task['edr'], status: 'not_detected', platform: 'edr' });
    await respond({ taskId: task['windows'], status: 'unsupported', detectionType: 'agent', platform: 'windows' });
    await respond({ taskId: task['linux'], status: 'not_detected', detectionType: 'agent', platform: 'linux' });
    await verdictOf(executionId, 'error');
    expect(await tasksOf(executionId)).toEqual([
      { platform: 'edr', status: 'completed', last_error: null },
      { platform: 'linux', status: 'completed', last_error: null },
      { platform: 'siem', status: 'failed', last_error: 'splunk: 401 unauthorized' },
      { platform: 'windows', status: 'failed', last_error: 'no connector for agent platform windows' },
    ]);
  });

  it('dead-letters a response for an unknown task and broken JSON with the reason, records them, and carries on', async () => {
    const unknownTask = randomUUID();
    await respond({ taskId: unknownTask, status: 'not_detected' }, { correlationId: 'corr-unknown' });
    await publish(worker, EXCHANGE, 'checking.agent.response', Buffer.from('{"task_id": '), { messageId: 'broken-response' });

    const unknown = await deadLetterWhere((d) => d.correlationId === 'corr-unknown');
    expect(unknown).toMatchObject({
      queue: 'caldera.checking.api.responses',
      reason: `invalid detection response: unknown task_id "${unknownTask}": no such detection task`,
      routingKey: 'checking.api.response',
    });
    const broken = await deadLetterWhere((d) => d.messageId === 'broken-response');
    expect(broken.queue).toBe('caldera.checking.agent.responses');
    expect(broken.reason).toMatch(/^invalid detection response: invalid JSON: /);
    expect(broken.bodyPreview).toBe('{"task_id": ');

    const { executionId, task } = await ingestSeed('op-after-bad');
    await respond({ taskId: task['siem'], status: 'detected' });
    await verdictOf(executionId, 'detected');
  });

  it("records the caldera-consumer's dead letters, and replays one as stored (never edited) into an execution", async () => {
    const admin = await confirmChannelAs('caldera_admin');
    // as the consumer runtime dead-letters (QueueConsumer): to the DLX, routed by the queue's name
    await publish(admin, DLX, INSTRUCTIONS, Buffer.from('{"operation_id": "op-fixed", '), {
      messageId: 'instruction-1',
      correlationId: 'corr-instruction',
      headers: {
        'x-rejection-reason': 'invalid execution result: invalid JSON: Unexpected end of JSON input',
        'x-original-queue': INSTRUCTIONS,
        'x-original-routing-key': 'caldera.execution.result',
      },
    });
    const deadLetter = await deadLetterWhere((d) => d.messageId === 'instruction-1');
    expect(deadLetter).toMatchObject({
      queue: INSTRUCTIONS,
      reason: 'invalid execution result: invalid JSON: Unexpected end of JSON input',
      correlationId: 'corr-instruction',
      routingKey: 'caldera.execution.result',
      replayedAt: null,
    });
    const listed = await app.get(ListDeadLetters).execute({ queue: `${INSTRUCTIONS}.dlq` });
    expect(listed.items.map((d) => d.id)).toContain(deadLetter.id);

    const replay = app.get(ReplayDeadLetter);
    await expect(replay.execute(deadLetter.id)).rejects.toBeInstanceOf(ReplayRejectedError);
    // an execution result is replayed only as stored (issue 12 #9)
    await expect(replay.execute(deadLetter.id, { ...seedExecutionResult(), operation_id: 'op-fixed' }, 'operator')).rejects.toThrow(
      'an execution result is replayed only as stored',
    );

    // one dead-lettered for a passing reason replays as it is
    await publish(admin, DLX, INSTRUCTIONS, Buffer.from(JSON.stringify({ ...seedExecutionResult(), operation_id: 'op-fixed' })), {
      messageId: 'instruction-2',
      correlationId: 'corr-instruction',
      headers: { 'x-rejection-reason': 'the database was unavailable', 'x-original-queue': INSTRUCTIONS },
    });
    const sound = await deadLetterWhere((d) => d.messageId === 'instruction-2');
    const outcome = await replay.execute(sound.id, undefined, 'operator');
    const [created] = await query<{ correlation_id: string; verdict: string }>(
      `SELECT e.correlation_id, e.verdict FROM execution e JOIN operation o ON o.id = e.operation_id WHERE o.caldera_operation_id = 'op-fixed'`,
    );
    expect(created).toEqual({ correlation_id: 'corr-instruction', verdict: 'pending' });
    expect(outcome.outcome).toMatch(/^created execution [0-9a-f-]{36} with 4 detection task\(s\)$/);
    const [after] = (await app.get(ListDeadLetters).execute({ queue: INSTRUCTIONS, replayed: true })).items;
    expect(after).toMatchObject({ id: sound.id, replayOutcome: outcome.outcome, replayedBy: 'operator', bodyEditedBy: null });
  });

  it("records what the broker itself dead-letters, with x-death's reason", async () => {
    const publisher = await confirmChannelAs('caldera_publisher');
    await publish(publisher, EXCHANGE, 'caldera.execution.result', seedExecutionResult(), { messageId: 'rejected-by-consumer' });
    // a consumer that rejects without a reason: the queue's policy dead-letters it
    const consumer = await confirmChannelAs('checking_consumer');
    const message = await eventually(async () => (await consumer.get(INSTRUCTIONS)) || null);
    consumer.nack(message, false, false);

    const deadLetter = await deadLetterWhere((d) => d.messageId === 'rejected-by-consumer');
    expect(deadLetter).toMatchObject({
      queue: INSTRUCTIONS,
      reason: `rejected: a consumer rejected it without giving a reason (${INSTRUCTIONS})`,
      routingKey: 'caldera.execution.result',
    });
    expect(deadLetter.headers['x-death']).toEqual([expect.objectContaining({ queue: INSTRUCTIONS, reason: 'rejected' })]);
  });

  /**
   * The broker closes the app's connection while a handler is still running (blocked on a promise the test holds).
   * The handler then finishes on a dead channel: that is logged, nothing is thrown (jest fails a test on an unhandled
   * rejection), the broker redelivers the message to the new connection, and its effect is stored once.
   */
  describe('when its broker connection closes under a running handler', () => {
    const closedUnderHandler = (warn: jest.SpyInstance) =>
      eventually(async () => warn.mock.calls.some(([line]) => String(line).includes('the broker will redeliver it')), 20_000);

    /** the use case's first call waits for `hold`; later calls (the redelivery) run at once */
    function holdFirstCall(useCase: { execute: (...args: never[]) => Promise<unknown> }, hold: Hold): jest.SpyInstance {
      const target = useCase as unknown as { execute: (...args: unknown[]) => Promise<unknown> };
      const original = target.execute.bind(target);
      return jest.spyOn(target, 'execute').mockImplementationOnce(async (...args: unknown[]) => {
        await hold.promise;
        return original(...args);
      });
    }

    it('records a detection response once', async () => {
      const { executionId, task } = await ingestSeed('op-connection-lost');
      const hold = new Hold();
      const record = holdFirstCall(app.get(RecordDetectionResult), hold);
      const warn = jest.spyOn(Logger.prototype, 'warn');
      await respond({ taskId: task['siem'], status: 'detected' });
      await eventually(async () => record.mock.calls.length === 1);

      try {
        expect(await closeConnectionsOf(broker, expectedRole('result-consumer', broker).user)).toBeGreaterThan(0);
        // redelivered on the new connection while the first handler still runs
        await eventually(async () => record.mock.calls.length === 2, 30_000);
      } finally {
        hold.release();
      }
      await closedUnderHandler(warn);

      const outcomes = await Promise.all(record.mock.results.map((r) => r.value as Promise<RecordOutcome>));
      expect(outcomes.filter((o) => o.stored)).toHaveLength(1);
      expect(await query(`SELECT count(*)::int AS n FROM detection_result WHERE task_id = $1`, [task['siem']])).toEqual([{ n: 1 }]);
      expect((await tasksOf(executionId)).find((t) => t.platform === 'siem')?.status).toBe('completed');
      const admin = await confirmChannelAs('caldera_admin');
      await eventually(async () => (await admin.checkQueue('caldera.checking.api.responses')).messageCount === 0);
      expect((await admin.checkQueue('caldera.checking.api.responses.dlq')).messageCount).toBe(0);
    }, 60_000);

    it('records a dead letter once', async () => {
      const hold = new Hold();
      const record = holdFirstCall(app.get(RecordDeadLetter), hold);
      const warn = jest.spyOn(Logger.prototype, 'warn');
      const admin = await confirmChannelAs('caldera_admin');
      await publish(admin, DLX, INSTRUCTIONS, Buffer.from('{"broken'), {
        messageId: 'dead-letter-connection-lost',
        headers: { 'x-rejection-reason': 'invalid execution result: invalid JSON', 'x-original-queue': INSTRUCTIONS },
      });
      await eventually(async () => record.mock.calls.length === 1);

      try {
        expect(await closeConnectionsOf(broker, expectedRole('result-consumer', broker).user)).toBeGreaterThan(0);
        await eventually(async () => record.mock.calls.length === 2, 30_000);
      } finally {
        hold.release();
      }
      await closedUnderHandler(warn);

      await deadLetterWhere((d) => d.messageId === 'dead-letter-connection-lost');
      expect(await query(`SELECT count(*)::int AS n FROM dead_letter WHERE message_id = $1`, ['dead-letter-connection-lost'])).toEqual([{ n: 1 }]);
      await eventually(async () => (await admin.checkQueue(`${INSTRUCTIONS}.dlq`)).messageCount === 0);
    }, 60_000);
  });
});
