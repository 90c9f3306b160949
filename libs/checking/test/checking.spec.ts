import { DetectionResponseMessage, NormalisedExecution, normaliseExecution, parseExecutionMessage, validateMessage } from '@purple/contracts';
import { dataSourceOptions } from '@purple/persistence';
import { Client } from 'pg';
import { DataSource } from 'typeorm';
import {
  DeadLetterDelivery,
  DeadLetterNotFoundError,
  DeadLetterRepository,
  ExecutionRepository,
  GetDeadLetter,
  IngestExecution,
  ListDeadLetters,
  RecordDeadLetter,
  RecordDetectionResult,
  RedispatchTask,
  ReplayDeadLetter,
  ReplayRejectedError,
  ResultRepository,
  TaskRepository,
  rollUpVerdict,
} from '../src';
import { ResponseOptions, SEED_TASKS, detectionResponse, linkResultWithList, seedExecutionResult } from '../src/testing';
import { createTestDatabase } from './support';

/** The checking engine's use cases against a real, migrated PostgreSQL database of this file's own. */
describe('checking use cases (real database)', () => {
  let db: Awaited<ReturnType<typeof createTestDatabase>>;
  let dataSource: DataSource;
  let ingest: IngestExecution;
  let recordResult: RecordDetectionResult;
  let recordDeadLetter: RecordDeadLetter;
  let listDeadLetters: ListDeadLetters;
  let replay: ReplayDeadLetter;

  beforeAll(async () => {
    db = await createTestDatabase();
    dataSource = await new DataSource(dataSourceOptions(db.url)).initialize();
    ingest = new IngestExecution(new ExecutionRepository(dataSource));
    recordResult = new RecordDetectionResult(new ResultRepository(dataSource));
    const deadLetters = new DeadLetterRepository(dataSource);
    recordDeadLetter = new RecordDeadLetter(deadLetters);
    listDeadLetters = new ListDeadLetters(deadLetters);
    replay = new ReplayDeadLetter(new GetDeadLetter(deadLetters), deadLetters, ingest, recordResult, new RedispatchTask(new TaskRepository(dataSource)));
  }, 60_000);

  afterAll(async () => {
    await dataSource?.destroy();
    await db?.drop();
  }, 60_000);

  const normalised = (message: Record<string, unknown>): NormalisedExecution => {
    const parsed = parseExecutionMessage(message);
    if (!parsed.ok) throw new Error(parsed.errors.join('; '));
    return normaliseExecution(parsed.value);
  };
  const seedOf = (operationId: string) => normalised({ ...seedExecutionResult(), operation_id: operationId });
  const response = (options: ResponseOptions): DetectionResponseMessage => {
    const validated = validateMessage(DetectionResponseMessage, detectionResponse(options));
    if (!validated.ok) throw new Error(validated.errors.join('; '));
    return validated.value;
  };
  const rows = <T>(sql: string, params: unknown[] = []) => dataSource.query(sql, params) as Promise<T[]>;
  const tasksOf = (executionId: string) =>
    rows<{ id: string; platform: string; connector: string; query: string; status: string; last_error: string | null }>(
      `SELECT id, platform, connector, query, status, last_error FROM detection_task WHERE execution_id = $1 ORDER BY platform`,
      [executionId],
    );
  const executionRow = async (id: string) =>
    (await rows<{ verdict: string; detection_latency_ms: string | null; verdict_at: Date | null; correlation_id: string }>(
      `SELECT verdict, detection_latency_ms, verdict_at, correlation_id FROM execution WHERE id = $1`,
      [id],
    ))[0];

  describe('IngestExecution', () => {
    it("stores the seed's example as one operation, one pending execution and four pending tasks, and wakes the dispatcher", async () => {
      const listener = new Client({ connectionString: db.url });
      await listener.connect();
      const woken: string[] = [];
      listener.on('notification', (n) => woken.push(n.payload ?? ''));
      await listener.query('LISTEN detection_task_pending');
      try {
        const stored = await ingest.execute(seedOf('op-ingest'), { dedupeKey: 'message:ingest-1', correlationId: 'corr-ingest' });
        expect(stored).toMatchObject({ created: true, verdict: 'pending', correlationId: 'corr-ingest' });
        expect(stored.taskIds).toHaveLength(4);
        const operations = await rows(`SELECT caldera_operation_id FROM operation WHERE id = $1`, [stored.operationId]);
        expect(operations).toEqual([{ caldera_operation_id: 'op-ingest' }]);
        expect(await executionRow(stored.executionId)).toMatchObject({ verdict: 'pending', verdict_at: null, correlation_id: 'corr-ingest' });
        const tasks = await tasksOf(stored.executionId);
        expect(tasks.map(({ platform, connector, query, status }) => ({ platform, connector, query, status }))).toEqual(
          [...SEED_TASKS].sort((a, b) => a.platform.localeCompare(b.platform)).map(({ platform, connector, query }) => ({
            platform,
            connector,
            query,
            status: 'pending',
          })),
        );
        // the transactional outbox: one wake-up per task, after the commit
        await waitFor(() => woken.length === 4);
        expect(woken.sort()).toEqual([...stored.taskIds].sort());
      } finally {
        await listener.end();
      }
    });

    it('creates nothing for the same execution again, even delivered concurrently', async () => {
      const execution = seedOf('op-dedupe');
      const context = { dedupeKey: 'link:dedupe-1', correlationId: 'corr-dedupe' };
      const outcomes = await Promise.all([1, 2, 3].map(() => ingest.execute(execution, context)));
      expect(outcomes.filter((o) => o.created)).toHaveLength(1);
      expect(new Set(outcomes.map((o) => o.executionId)).size).toBe(1);
      const again = await ingest.execute(execution, { ...context, correlationId: 'another' });
      expect(again).toMatchObject({ created: false, executionId: outcomes[0].executionId, correlationId: 'corr-dedupe' });
      expect(again.taskIds).toHaveLength(4);
      expect(await rows(`SELECT id FROM execution WHERE dedupe_key = 'link:dedupe-1'`)).toHaveLength(1);
      expect(await tasksOf(outcomes[0].executionId)).toHaveLength(4);
    });

    it('keeps one operation per Caldera operation id, with its name once known', async () => {
      const first = await ingest.execute(seedOf('op-shared'), { dedupeKey: 'message:shared-1', correlationId: 'c1' });
      const named = { ...normalised(linkResultWithList('link-shared')), operationId: 'op-shared' };
      const second = await ingest.execute(named, { dedupeKey: 'link:link-shared', correlationId: 'c2' });
      expect(second.operationId).toBe(first.operationId);
      expect(await rows(`SELECT name FROM operation WHERE caldera_operation_id = 'op-shared'`)).toEqual([{ name: 'purple-discovery' }]);
      const [attack] = await rows(`SELECT tactic, technique_id, technique_name, caldera_link_id FROM execution WHERE id = $1`, [
        second.executionId,
      ]);
      expect(attack).toEqual({
        tactic: 'discovery',
        technique_id: 'T1033',
        technique_name: 'System Owner/User Discovery',
        caldera_link_id: 'link-shared',
      });
    });

    it('gives an execution without detections its final verdict at once', async () => {
      const message = seedExecutionResult();
      delete message['detections'];
      const stored = await ingest.execute(normalised(message), { dedupeKey: 'message:none', correlationId: 'c' });
      expect(stored).toMatchObject({ created: true, verdict: 'no_detections', taskIds: [] });
      const row = await executionRow(stored.executionId);
      expect(row.verdict).toBe('no_detections');
      expect(row.verdict_at).toBeInstanceOf(Date);
    });

    it('writes all of an execution or none of it', async () => {
      const execution = seedOf('op-atomic');
      // a detection type the database refuses, after the operation, the execution and three tasks were written
      execution.detections[3] = { ...execution.detections[3], detectionType: 'satellite' as 'agent' };
      await expect(ingest.execute(execution, { dedupeKey: 'message:atomic', correlationId: 'c' })).rejects.toThrow(/detection_type/);
      expect(await rows(`SELECT id FROM operation WHERE caldera_operation_id = 'op-atomic'`)).toEqual([]);
      expect(await rows(`SELECT id FROM execution WHERE dedupe_key = 'message:atomic'`)).toEqual([]);
    });

    it('stores output with NUL characters instead of refusing the execution', async () => {
      const execution = seedOf('op-nul');
      execution.result.stdout = 'admin\u0000istrator';
      const stored = await ingest.execute(execution, { dedupeKey: 'message:nul', correlationId: 'c' });
      const [row] = await rows<{ result: { stdout: string } }>(`SELECT result FROM execution WHERE id = $1`, [stored.executionId]);
      expect(row.result.stdout).toBe('administrator');
    });
  });

  describe('RecordDetectionResult and the verdict', () => {
    const ingestSeed = async (operationId: string) => {
      const stored = await ingest.execute(seedOf(operationId), { dedupeKey: `message:${operationId}`, correlationId: `corr-${operationId}` });
      const tasks = await tasksOf(stored.executionId);
      const byPlatform = Object.fromEntries(tasks.map((t) => [t.platform, t.id]));
      return { executionId: stored.executionId, byPlatform };
    };

    it('rolls up to detected with the latency of the first evidence, storing each answer once', async () => {
      const { executionId, byPlatform } = await ingestSeed('op-detected');
      const first = await recordResult.execute(response({ taskId: byPlatform['siem'], status: 'not_detected' }));
      expect(first).toMatchObject({ stored: true, taskStatus: 'completed', verdict: 'checking', correlationId: 'corr-op-detected' });
      expect((await executionRow(executionId)).verdict).toBe('checking');

      const detection = response({ taskId: byPlatform['edr'], status: 'detected', eventTimes: ['2024-01-15T10:30:42Z'] });
      expect((await recordResult.execute(detection)).verdict).toBe('detected');
      const again = await recordResult.execute(detection);
      expect(again.stored).toBe(false);
      expect(await rows(`SELECT id FROM detection_result WHERE task_id = $1`, [byPlatform['edr']])).toHaveLength(1);

      const row = await executionRow(executionId);
      expect(row).toMatchObject({ verdict: 'detected', detection_latency_ms: '42000' });
      const [result] = await rows<{ evidence: unknown[]; matched_event_at: Date; worker_id: string }>(
        `SELECT evidence, matched_event_at, worker_id FROM detection_result WHERE task_id = $1`,
        [byPlatform['edr']],
      );
      expect(result.matched_event_at).toEqual(new Date('2024-01-15T10:30:42Z'));
      expect(result.evidence).toEqual([{ id: 'alert-0', link: 'https://siem.example/alerts/0', event_time: '2024-01-15T10:30:42Z' }]);
    });

    it('rolls up to not_detected only once every task answered, also when the answers arrive at the same moment', async () => {
      const { executionId, byPlatform } = await ingestSeed('op-concurrent');
      const outcomes = await Promise.all(
        Object.values(byPlatform).map((taskId) => recordResult.execute(response({ taskId, status: 'not_detected' }))),
      );
      expect(outcomes.every((o) => o.stored && o.taskStatus === 'completed')).toBe(true);
      // each roll-up locks the execution, so the last one to commit sees all four answers
      const row = await executionRow(executionId);
      expect(row.verdict).toBe('not_detected');
      expect(row.verdict_at).toBeInstanceOf(Date);
      expect(row.detection_latency_ms).toBeNull();
    });

    it('rolls up to error when a task failed, keeping why', async () => {
      const { executionId, byPlatform } = await ingestSeed('op-error');
      await recordResult.execute(response({ taskId: byPlatform['siem'], status: 'not_detected' }));
      await recordResult.execute(response({ taskId: byPlatform['edr'], status: 'error', error: 'crowdstrike: 503' }));
      await recordResult.execute(response({ taskId: byPlatform['windows'], status: 'unsupported', detectionType: 'agent', platform: 'windows' }));
      expect((await executionRow(executionId)).verdict).toBe('checking');
      await recordResult.execute(response({ taskId: byPlatform['linux'], status: 'not_detected', detectionType: 'agent', platform: 'linux' }));
      expect((await executionRow(executionId)).verdict).toBe('error');
      const tasks = await tasksOf(executionId);
      expect(tasks.map((t) => [t.platform, t.status, t.last_error])).toEqual([
        ['edr', 'failed', 'crowdstrike: 503'],
        ['linux', 'completed', null],
        ['siem', 'completed', null],
        ['windows', 'failed', 'no connector for agent platform windows'],
      ]);
    });

    it('refuses to roll up outside a transaction, since it could not lock the execution', async () => {
      const { executionId } = await ingestSeed('op-no-tx');
      await expect(rollUpVerdict(dataSource.manager, executionId)).rejects.toThrow(/inside a transaction/);
      await expect(dataSource.transaction((manager) => rollUpVerdict(manager, executionId))).resolves.toBe('pending');
    });
  });

  describe('dead letters', () => {
    const delivery = (queue: string, body: string, headers: Record<string, unknown> = {}, redelivered = false): DeadLetterDelivery => ({
      content: Buffer.from(body),
      fields: { routingKey: queue, redelivered },
      properties: { messageId: undefined, correlationId: undefined, headers: { 'x-original-queue': queue, ...headers } },
    });

    it('keeps a dead letter delivered again once (also before the first was stored), but two messages with the same body twice', async () => {
      const broken = delivery('caldera.checking.agent.tasks', '{"task_id": 1}', { 'x-rejection-reason': 'invalid detection task' });
      const withId = (messageId: string) => ({ ...broken, properties: { ...broken.properties, messageId } });
      const first = await recordDeadLetter.execute(withId('m-1'), 'caldera.checking.agent.tasks.dlq');
      const second = await recordDeadLetter.execute(withId('m-2'), 'caldera.checking.agent.tasks.dlq');
      expect(first.id).not.toBeNull();
      expect(second.id).not.toBeNull();
      // a redelivery, and the same delivery recorded again (a closed channel under a handler that had stored it)
      const redelivered = await recordDeadLetter.execute({ ...withId('m-1'), fields: { ...broken.fields, redelivered: true } }, 'x.dlq');
      expect(redelivered.id).toBeNull();
      expect((await recordDeadLetter.execute(withId('m-2'), 'caldera.checking.agent.tasks.dlq')).id).toBeNull();
      expect((await listDeadLetters.execute({ queue: 'caldera.checking.agent.tasks' })).total).toBe(2);
    });

    it('lists them newest first, by queue, a page at a time, without whole bodies', async () => {
      for (let i = 0; i < 3; i++) {
        await recordDeadLetter.execute(
          delivery('caldera.checking.api.tasks', `{"n": ${i}, "pad": "${'x'.repeat(3000)}"}`, { 'x-rejection-reason': `reason ${i}` }),
          'caldera.checking.api.tasks.dlq',
        );
      }
      const page = await listDeadLetters.execute({ queue: 'caldera.checking.api.tasks.dlq', limit: 2, offset: 0 });
      expect(page).toMatchObject({ total: 3, limit: 2, offset: 0 });
      expect(page.items.map((d) => d.reason)).toEqual(['reason 2', 'reason 1']);
      expect(page.items[0].bodyBytes).toBeGreaterThan(3000);
      expect(page.items[0].bodyPreview).toHaveLength(2048);
      expect((await listDeadLetters.execute({ queue: 'caldera.checking.api.tasks', limit: 2, offset: 2 })).items.map((d) => d.reason)).toEqual([
        'reason 0',
      ]);
      expect((await listDeadLetters.execute({ queue: 'caldera.checking.instructions', replayed: true })).items).toEqual([]);
    });

    it('replays an execution result only as stored: refuses a broken one and any edit (issue 12 #9)', async () => {
      const broken = await recordDeadLetter.execute(
        delivery('caldera.checking.instructions', '{"operation_id": ', { 'x-rejection-reason': 'invalid JSON', 'x-correlation-id': 'corr-dl' }),
        'caldera.checking.instructions.dlq',
      );
      const id = broken.id as string;
      const refused = await replay.execute(id).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(ReplayRejectedError);
      expect((refused as Error).message).toMatch(/^replay refused: invalid execution result: invalid JSON/);
      const edited = await replay.execute(id, { ...seedExecutionResult(), operation_id: 'op-replayed' }, 'operator').catch((e: unknown) => e);
      expect(edited).toBeInstanceOf(ReplayRejectedError);
      expect((edited as Error).message).toBe('replay refused: an execution result is replayed only as stored: its body cannot be edited');
      expect(await rows(`SELECT 1 FROM operation WHERE caldera_operation_id = 'op-replayed'`)).toEqual([]);
      expect((await listDeadLetters.execute({ queue: 'caldera.checking.instructions' })).items[0].replayedAt).toBeNull();

      const sound = await recordDeadLetter.execute(
        delivery('caldera.checking.instructions', JSON.stringify({ ...seedExecutionResult(), operation_id: 'op-replayed' }), {
          'x-rejection-reason': 'database unavailable',
          'x-correlation-id': 'corr-dl',
        }),
        'caldera.checking.instructions.dlq',
      );
      const outcome = await replay.execute(sound.id as string, undefined, 'operator');
      expect(outcome.outcome).toBe(`created execution ${outcome.executionId} with 4 detection task(s)`);
      expect(await executionRow(outcome.executionId)).toMatchObject({ verdict: 'pending', correlation_id: 'corr-dl' });
      const again = await replay.execute(sound.id as string);
      expect(again).toMatchObject({ executionId: outcome.executionId, outcome: `execution ${outcome.executionId} already existed; nothing created` });
      const [listed] = (await listDeadLetters.execute({ queue: 'caldera.checking.instructions', replayed: true })).items;
      expect(listed).toMatchObject({ id: sound.id, replayOutcome: again.outcome, bodyEditedBy: null });
      expect(listed.replayedAt).toBeInstanceOf(Date);
    });

    it('replays a response into a result, and a task message into a pending task', async () => {
      const stored = await ingest.execute(seedOf('op-replay-tasks'), { dedupeKey: 'message:replay-tasks', correlationId: 'c' });
      const [siem, edr] = stored.taskIds;
      const unknownTask = JSON.stringify(detectionResponse({ taskId: '00000000-0000-4000-8000-000000000000', status: 'not_detected' }));
      const responseLetter = await recordDeadLetter.execute(
        delivery('caldera.checking.api.responses', unknownTask, { 'x-rejection-reason': 'unknown task_id' }),
        'caldera.checking.api.responses.dlq',
      );
      await expect(replay.execute(responseLetter.id as string)).rejects.toThrow(/unknown task_id/);
      const recorded = await replay.execute(responseLetter.id as string, detectionResponse({ taskId: siem, status: 'not_detected' }), 'operator');
      expect(recorded.outcome).toBe(`recorded the result of task ${siem} (attempt 1); verdict checking`);
      // the edit is recorded with who made it
      expect((await listDeadLetters.execute({ queue: 'caldera.checking.api.responses', replayed: true })).items[0]).toMatchObject({
        replayedBy: 'operator',
        bodyEditedBy: 'operator',
      });

      await dataSource.query(`UPDATE detection_task SET status = 'timed_out', attempts = 3 WHERE id = $1`, [edr]);
      const taskLetter = await recordDeadLetter.execute(
        delivery('caldera.checking.api.tasks', JSON.stringify({ task_id: edr }), {}),
        'caldera.checking.api.tasks.dlq',
      );
      const reopened = await replay.execute(taskLetter.id as string);
      expect(reopened.outcome).toBe(`task ${edr} is pending again (was timed_out); the dispatcher sends it as a new attempt`);
      const [task] = await rows<{ status: string; attempts: number }>(`SELECT status, attempts FROM detection_task WHERE id = $1`, [edr]);
      expect(task).toEqual({ status: 'pending', attempts: 3 });

      const completedLetter = await recordDeadLetter.execute(
        delivery('caldera.checking.api.tasks', JSON.stringify({ task_id: siem }), {}),
        'caldera.checking.api.tasks.dlq',
      );
      await expect(replay.execute(completedLetter.id as string)).rejects.toThrow(`replay refused: detection task ${siem} already completed`);
    });

    it('answers "not found" for an unknown id', async () => {
      await expect(replay.execute('00000000-0000-4000-8000-000000000000')).rejects.toBeInstanceOf(DeadLetterNotFoundError);
      await expect(replay.execute('not-a-uuid')).rejects.toBeInstanceOf(DeadLetterNotFoundError);
    });
  });
});

async function waitFor(condition: () => boolean, timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
