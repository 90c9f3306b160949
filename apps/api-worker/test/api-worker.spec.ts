import { INestApplication, Logger } from '@nestjs/common';
import { AnswerDetectionTask } from '@purple/detection';
import { DetectionResponseMessage, validateMessage } from '@purple/contracts';
import {
  detectionTask,
  FakeSplunk,
  messages,
  QueueReader,
  ServiceProcess,
  splunkEvent,
  startServiceProcess,
  TaskPublisher,
} from '@purple/detection/testing';
import {
  BrokerNamespace,
  closeConnectionsOf,
  createBrokerNamespace,
  createTestDatabase,
  eventually,
  expectedRole,
  Hold,
  startTestService,
  TestDatabase,
} from '@purple/testing';
import { CHECKING_QUEUES, deadLetterQueueOf, ROUTING_KEYS } from '@purple/topology';
import { ApiWorkerModule } from '../src/app.module';

const TOKEN = 'splunk-token-0d9e2';
jest.setTimeout(30_000);

describe('api-worker (real broker, fake Splunk)', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let splunk: FakeSplunk;
  let worker: INestApplication;
  let tasks: TaskPublisher;
  let responses: QueueReader;
  let deadLetters: QueueReader;

  const workerEnv = (workerId: string) => ({
    ...broker.env(),
    SPLUNK_URL: splunk.url,
    SPLUNK_TOKEN: TOKEN,
    WORKER_ID: workerId,
  });
  const startWorker = (workerId: string) =>
    startTestService('api-worker', (env) => ApiWorkerModule.register(env), broker, db.url, workerEnv(workerId));
  const responseTo = (taskId: string) => eventually(async () => responses.forTask(taskId)[0], 20_000);

  beforeAll(async () => {
    [broker, db, splunk] = await Promise.all([createBrokerNamespace(), createTestDatabase(), FakeSplunk.start({ token: TOKEN })]);
    worker = await startWorker('worker-a');
    [tasks, responses, deadLetters] = await Promise.all([
      TaskPublisher.start(broker),
      QueueReader.start(broker, CHECKING_QUEUES.apiResponses),
      QueueReader.start(broker, deadLetterQueueOf(CHECKING_QUEUES.apiTasks)),
    ]);
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await Promise.all([tasks?.close(), responses?.close(), deadLetters?.close(), splunk?.close()]);
    await Promise.all([broker?.dispose(), db?.drop()]);
  }, 60_000);

  beforeEach(() => {
    splunk.respond = () => ({ events: [] });
  });

  it('answers a Splunk task with a match: detected, with evidence, in the seed’s response format', async () => {
    const eventTime = new Date(Date.now() - 2000);
    splunk.respond = (search) => (search.search.includes('"target-machine.local"') ? { events: [splunkEvent(eventTime, '7:4242')] } : { events: [] });
    const task = detectionTask({ query: 'index=main host={{host}} CommandLine="*{{command}}*"' });
    await tasks.publish(ROUTING_KEYS.apiTask, task, task['correlation_id'] as string);

    const { body, properties } = await responseTo(task.task_id);
    expect(validateMessage(DetectionResponseMessage, body).ok).toBe(true);
    expect(body).toMatchObject({
      task_id: task.task_id,
      execution_id: task['execution_id'],
      detection_type: 'api',
      platform: 'siem',
      detected: true,
      status: 'detected',
      confidence: 1,
      attempt: 1,
      results: { events_found: 1 },
      metadata: { worker_id: 'worker-a', version: '1.0.0', query_hash: expect.stringMatching(/^sha256:[0-9a-f]{64}$/) },
      evidence: [{ id: '7:4242', event_time: eventTime.toISOString() }],
    });
    expect(properties.correlationId).toBe(task['correlation_id']);
    expect(properties.deliveryMode).toBe(2);
    const search = splunk.searches.find((s) => s.search.includes('target-machine.local'));
    expect(search?.search).toBe('search index=main host="target-machine.local" CommandLine="*whoami*"');
    expect(JSON.stringify(body)).not.toContain(TOKEN);
  });

  it('answers not_detected after searching again until its short window has closed', async () => {
    const task = detectionTask({ query: 'index=main marker={{marker}}', config: { window_after_seconds: 2, retry_interval_seconds: 1 } });
    const marker = (task['metadata'] as { execution_context: { link_id: string } }).execution_context.link_id;
    await tasks.publish(ROUTING_KEYS.apiTask, task);

    const { body } = await responseTo(task.task_id);
    expect(body).toMatchObject({ status: 'not_detected', detected: false, results: { events_found: 0 }, evidence: [] });
    const searches = splunk.searches.filter((s) => s.search.includes(marker));
    expect(searches.length).toBeGreaterThanOrEqual(2);
    // the last search ran once the window had closed
    const executedAt = Date.parse((task['metadata'] as { execution_context: { executed_at: string } }).execution_context.executed_at);
    expect(searches[searches.length - 1].receivedAt).toBeGreaterThanOrEqual(executedAt + 2000);
  });

  it('answers unsupported for a connector the worker does not have', async () => {
    const task = detectionTask({ connector: 'crowdstrike', platform: 'edr', query: 'process_name:whoami.exe' });
    await tasks.publish(ROUTING_KEYS.apiTask, task);
    const { body } = await responseTo(task.task_id);
    expect(body).toMatchObject({
      status: 'unsupported',
      detected: false,
      confidence: 0,
      error: 'no api connector "crowdstrike" is configured on this worker',
    });
  });

  it('answers error with the reason when the connector keeps failing, or refuses the search', async () => {
    splunk.respond = (search) =>
      search.search.includes('failing')
        ? { status: 503, body: messages('ERROR', 'search head unavailable') }
        : { status: 400, body: messages('FATAL', "Unknown search command 'serch'.") };
    const failing = detectionTask({ query: 'failing', config: { window_after_seconds: 30, max_consecutive_failures: 2 } });
    const refused = detectionTask({ query: '| serch x' });
    await tasks.publish(ROUTING_KEYS.apiTask, failing);
    await tasks.publish(ROUTING_KEYS.apiTask, refused);

    expect((await responseTo(failing.task_id)).body).toMatchObject({
      status: 'error',
      detected: false,
      error: 'splunk answered HTTP 503: search head unavailable (2 failures in a row)',
    });
    expect((await responseTo(refused.task_id)).body).toMatchObject({
      status: 'error',
      error: "splunk refused the request (HTTP 400): Unknown search command 'serch'.",
    });
  });

  it('dead-letters malformed tasks with the reason, and goes on with the next', async () => {
    const valid = detectionTask({ connector: 'nothing-here' });
    await tasks.publish(ROUTING_KEYS.apiTask, '{"task_id": "broken');
    await tasks.publish(ROUTING_KEYS.apiTask, { ...detectionTask(), query: { type: 'splunk_search', content: 'x', timeout_seconds: 'soon' } });
    await tasks.publish(ROUTING_KEYS.apiTask, valid);

    await responseTo(valid.task_id);
    await eventually(async () => deadLetters.messages.length >= 2);
    const reasons = deadLetters.messages.map((m) => m.properties.headers?.['x-rejection-reason']);
    expect(reasons).toEqual([
      expect.stringMatching(/^invalid detection task: invalid JSON: /),
      'invalid detection task: query.timeout_seconds must be an integer number',
    ]);
    expect(deadLetters.messages[0].properties.headers?.['x-original-queue']).toBe(CHECKING_QUEUES.apiTasks);
  });

  it('answers a task whose connection closed under its handler, logging it rather than throwing', async () => {
    const answer = worker.get(AnswerDetectionTask);
    const original = answer.execute.bind(answer);
    const hold = new Hold();
    const execute = jest.spyOn(answer, 'execute').mockImplementationOnce(async (...args) => {
      await hold.promise;
      return original(...args);
    });
    const warn = jest.spyOn(Logger.prototype, 'warn');
    const task = detectionTask({ connector: 'nothing-here' });
    await tasks.publish(ROUTING_KEYS.apiTask, task);
    await eventually(async () => execute.mock.calls.length === 1);
    try {
      expect(await closeConnectionsOf(broker, expectedRole('api-worker', broker).user)).toBeGreaterThan(0);
      // redelivered on the new connection while the first handler still runs
      await eventually(async () => execute.mock.calls.length === 2, 30_000);
    } finally {
      hold.release();
    }
    // the first handler ends on its dead channel: logged, never thrown (jest fails a test on an unhandled rejection)
    await eventually(async () => warn.mock.calls.some(([line]) => String(line).includes('the broker will redeliver it')), 20_000);
    await responseTo(task.task_id);
    // each answer is for the same task attempt: the result consumer keeps one result per attempt
    expect(responses.forTask(task.task_id).every((r) => r.body['status'] === 'unsupported' && r.body['attempt'] === 1)).toBe(true);
    expect(deadLetters.messages.filter((m) => m.body['task_id'] === task.task_id)).toHaveLength(0);
    execute.mockRestore();
    warn.mockRestore();
  }, 60_000);

  describe('a worker that stops mid-search', () => {
    let other: ServiceProcess | undefined;
    afterAll(() => other?.kill());

    const slowTask = async (marker: string) => {
      splunk.respond = (search) => (search.search.includes(marker) ? { hang: true } : { events: [] });
      const task = detectionTask({ query: marker, timeoutSeconds: 60 });
      await tasks.publish(ROUTING_KEYS.apiTask, task);
      await eventually(async () => splunk.searches.some((s) => s.search.includes(marker)));
      splunk.respond = () => ({ events: [splunkEvent(new Date(), '9:1')] });
      return task;
    };

    it('when shut down, hands its task back to the queue for another worker, which answers it', async () => {
      const task = await slowTask('slow-one');
      other = await startServiceProcess('api-worker', { ...workerEnv('worker-b'), LOG_LEVEL: 'info' });
      await worker.close();

      const { body } = await responseTo(task.task_id);
      expect(body).toMatchObject({ status: 'detected', metadata: { worker_id: 'worker-b' } });
      expect(responses.forTask(task.task_id)).toHaveLength(1);
      // its logs say what it answered (written just after the publish: waited for), never the Splunk token
      const logs = await eventually(async () => {
        const text = other?.lines().join('\n') ?? '';
        return text.includes('task answered detected') ? text : null;
      });
      expect(logs).toContain('connectors: splunk');
      expect(logs).not.toContain(TOKEN);
    }, 90_000);

    it('when killed (SIGKILL), leaves its task to be redelivered and answered by another worker', async () => {
      // the process is the only consumer now, so it takes the task
      const task = await slowTask('slow-two');
      worker = await startWorker('worker-c');
      await other?.kill();

      const { body } = await responseTo(task.task_id);
      expect(body).toMatchObject({ status: 'detected', metadata: { worker_id: 'worker-c' } });
      expect(responses.forTask(task.task_id)).toHaveLength(1);
    }, 60_000);
  });
});
