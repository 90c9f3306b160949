import { INestApplication } from '@nestjs/common';
import { Client } from 'pg';
import { randomUUID } from 'node:crypto';
import { DetectionTaskMessage, validateMessage } from '@purple/contracts';
import { QueueReader, ServiceProcess, startServiceProcess } from '@purple/detection/testing';
import { BrokerNamespace, createBrokerNamespace, createTestDatabase, eventually, startTestService, TestDatabase, databaseEnv } from '@purple/testing';
import { CHECKING_QUEUES, ROUTING_KEYS } from '@purple/topology';
import { DispatcherModule } from '../src/app.module';

jest.setTimeout(60_000);

interface TaskSpec {
  detectionType: 'api' | 'agent';
  platform: string;
  connector: string;
  query: string;
  config?: Record<string, unknown>;
  timeoutSeconds?: number;
  maxAttempts?: number;
  priority?: 'high' | 'medium' | 'low';
}

/** An operation, an execution and its pending tasks, as the caldera-consumer stores them (one transaction). */
async function storeExecution(
  db: Client,
  tasks: TaskSpec[],
  execution: { executedAt?: Date; linkId?: string | null } = {},
): Promise<{ executionId: string; correlationId: string; taskIds: string[] }> {
  const correlationId = `corr-${randomUUID()}`;
  await db.query('BEGIN');
  try {
    const [operation] = (
      await db.query(
        `INSERT INTO operation (caldera_operation_id, name) VALUES ('op-12345', 'purple') 
         ON CONFLICT (caldera_operation_id) DO UPDATE SET name = EXCLUDED.name RETURNING id`,
      )
    ).rows;
    const [row] = (
      await db.query(
        `INSERT INTO execution (operation_id, dedupe_key, caldera_link_id, agent_host, agent_paw, command, result, executed_at, correlation_id, marker)
         VALUES ($1, $2, $3, 'target-machine.local', 'abc123def456', 'whoami', '{"stdout":"administrator"}', $4, $5,
                 COALESCE($3, 'pm-0123456789ab')) RETURNING id`,
        [operation.id, randomUUID(), execution.linkId === undefined ? `link-${randomUUID().slice(0, 8)}` : execution.linkId, execution.executedAt ?? new Date(), correlationId],
      )
    ).rows;
    const taskIds: string[] = [];
    for (const t of tasks) {
      const [task] = (
        await db.query(
          `INSERT INTO detection_task (execution_id, detection_type, platform, connector, query, config, priority, timeout_seconds, max_attempts)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id`,
          [row.id, t.detectionType, t.platform, t.connector, t.query, t.config ?? {}, t.priority ?? 'medium', t.timeoutSeconds ?? 30, t.maxAttempts ?? 3],
        )
      ).rows;
      taskIds.push(task.id);
    }
    await db.query('COMMIT');
    return { executionId: row.id, correlationId, taskIds };
  } catch (error) {
    await db.query('ROLLBACK');
    throw error;
  }
}

const taskRow = async (db: Client, id: string) => (await db.query(`SELECT * FROM detection_task WHERE id = $1`, [id])).rows[0];
const verdictOf = async (db: Client, id: string) => (await db.query(`SELECT verdict FROM execution WHERE id = $1`, [id])).rows[0].verdict;

const SIEM: TaskSpec = { detectionType: 'api', platform: 'siem', connector: 'splunk', query: 'search index=security user={{user}}' };
const LINUX: TaskSpec = { detectionType: 'agent', platform: 'linux', connector: 'bash', query: "grep 'sudo' /var/log/auth.log" };

describe('dispatcher (real broker and database)', () => {
  let broker: BrokerNamespace;
  let database: TestDatabase;
  let db: Client;
  let apiTasks: QueueReader;
  let agentTasks: QueueReader;

  const start = (extraEnv: Record<string, string> = {}) =>
    startTestService('dispatcher', (env) => DispatcherModule.register(env), broker, database.url, extraEnv);

  beforeAll(async () => {
    [broker, database] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    db = new Client({ connectionString: database.url });
    await db.connect();
    [apiTasks, agentTasks] = await Promise.all([
      QueueReader.start(broker, CHECKING_QUEUES.apiTasks),
      QueueReader.start(broker, CHECKING_QUEUES.agentTasks),
    ]);
  }, 60_000);

  afterAll(async () => {
    await Promise.all([apiTasks?.close(), agentTasks?.close(), db?.end()]);
    await Promise.all([broker?.dispose(), database?.drop()]);
  }, 60_000);

  describe('woken by NOTIFY (the sweep is an hour away)', () => {
    let dispatcher: INestApplication;
    beforeAll(async () => {
      dispatcher = await start({ DISPATCH_SWEEP_MS: '3600000', DETECTION_WINDOW_AFTER_SECONDS: '120', DISPATCH_GRACE_SECONDS: '60' });
    });
    afterAll(() => dispatcher?.close());

    it('publishes pending tasks in the seed’s format to their queues and marks them dispatched', async () => {
      const executedAt = new Date(Date.now() - 1000);
      const { executionId, correlationId, taskIds } = await storeExecution(
        db,
        [{ ...SIEM, config: { placeholders: { user: 'administrator' }, window_after_seconds: 600, priority: 'high' }, priority: 'high' }, LINUX],
        { executedAt, linkId: 'link-67890' },
      );
      const [siemId, linuxId] = taskIds;

      const siem = await eventually(async () => apiTasks.forTask(siemId)[0]);
      const linux = await eventually(async () => agentTasks.forTask(linuxId)[0]);
      expect(validateMessage(DetectionTaskMessage, siem.body).ok).toBe(true);
      expect(validateMessage(DetectionTaskMessage, linux.body).ok).toBe(true);
      expect(siem.body).toEqual({
        task_id: siemId,
        operation_id: 'op-12345',
        detection_type: 'api',
        platform: 'siem',
        query: { type: 'splunk_search', content: 'search index=security user={{user}}', timeout_seconds: 30 },
        metadata: {
          priority: 'high',
          created_at: expect.any(String),
          execution_context: {
            original_command: 'whoami',
            target_host: 'target-machine.local',
            agent_paw: 'abc123def456',
            executed_at: executedAt.toISOString(),
            link_id: 'link-67890',
            marker: 'link-67890',
          },
        },
        execution_id: executionId,
        attempt: 1,
        connector: 'splunk',
        detection_config: {
          placeholders: { user: 'administrator' },
          jitter_seconds: 0,
          priority: 'high',
          window_before_seconds: 300,
          window_after_seconds: 600,
          initial_delay_seconds: 30,
          retry_interval_seconds: 30,
          max_consecutive_failures: 3,
        },
        correlation_id: correlationId,
      });
      expect(siem.fields.routingKey).toBe(ROUTING_KEYS.apiTask);
      expect(siem.properties).toMatchObject({ messageId: `${siemId}:1`, correlationId, deliveryMode: 2 });
      expect(linux.body).toMatchObject({ detection_type: 'agent', platform: 'linux', query: { type: 'bash_command' }, detection_config: { window_after_seconds: 120 } });
      expect(linux.fields.routingKey).toBe(ROUTING_KEYS.agentTask);

      const stored = await eventually(async () => {
        const row = await taskRow(db, siemId);
        return row.status === 'dispatched' ? row : null;
      });
      expect(stored).toMatchObject({ attempts: 1, last_error: null });
      expect(stored.dispatched_at).toBeInstanceOf(Date);
      // the window closes 600 s after the execution; then twice the timeout (30 s) and the grace (60 s)
      expect(stored.deadline_at.getTime()).toBe(executedAt.getTime() + (600 + 60 + 60) * 1000);
      // the other task's window closes after the dispatcher's default window after (120 s)
      const linuxRow = await eventually(async () => ((await taskRow(db, linuxId)).status === 'dispatched' ? taskRow(db, linuxId) : null));
      expect(linuxRow.deadline_at.getTime()).toBe(executedAt.getTime() + (120 + 60 + 60) * 1000);
      expect(await verdictOf(db, executionId)).toBe('checking');
    });

    it('listens again after losing its LISTEN connection', async () => {
      const listeners = `SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND query = 'LISTEN detection_task_pending'`;
      const [before] = (await db.query(listeners)).rows;
      expect(before).toBeDefined();
      await db.query(`SELECT pg_terminate_backend($1)`, [before.pid]);
      await eventually(async () => (await db.query(listeners)).rows.some((r) => r.pid !== before.pid));

      const { taskIds } = await storeExecution(db, [LINUX]);
      await eventually(async () => agentTasks.forTask(taskIds[0])[0]);
      expect((await taskRow(db, taskIds[0])).status).toBe('dispatched');
    });

    it('fails a task that cannot be a valid message, with the reason, and rolls its execution up', async () => {
      const { executionId, taskIds } = await storeExecution(db, [{ ...SIEM, config: { placeholders: { user: 42 } } }]);
      const failed = await eventually(async () => {
        const row = await taskRow(db, taskIds[0]);
        return row.status === 'failed' ? row : null;
      });
      expect(failed.last_error).toBe('cannot be sent as a valid task message: detection_config.placeholders.user must be a string');
      expect(await verdictOf(db, executionId)).toBe('error');
      expect(apiTasks.forTask(taskIds[0])).toHaveLength(0);
    });
  });

  it('publishes each task exactly once with two dispatchers side by side', async () => {
    const env = { DISPATCH_BATCH_SIZE: '5', DISPATCH_SWEEP_MS: '200' };
    let other: ServiceProcess | undefined;
    const dispatcher = await start(env);
    try {
      other = await startServiceProcess('dispatcher', { ...broker.env(), ...databaseEnv(database.url), LOG_LEVEL: 'info', ...env });
      const before = apiTasks.messages.length;
      const specs = Array.from({ length: 120 }, (_, i) => ({ ...SIEM, query: `search marker=${i}` }));
      const { taskIds } = await storeExecution(db, specs);

      await eventually(async () => {
        const { rows } = await db.query(`SELECT count(*)::int AS n FROM detection_task WHERE id = ANY($1) AND status = 'dispatched'`, [taskIds]);
        return rows[0].n === taskIds.length;
      }, 30_000);
      await eventually(async () => apiTasks.messages.length - before >= taskIds.length);
      await new Promise((r) => setTimeout(r, 500));

      const received = apiTasks.messages.slice(before).map((m) => m.body['task_id']);
      expect(received).toHaveLength(taskIds.length);
      expect(new Set(received)).toEqual(new Set(taskIds));
      // both did part of the work
      const byOther = other.lines().filter((line) => line.includes('task dispatched')).length;
      expect(byOther).toBeGreaterThan(0);
      expect(byOther).toBeLessThan(taskIds.length);
    } finally {
      await other?.stop();
      await dispatcher.close();
    }
  }, 120_000);

  it('sends an unanswered task again as attempt 2, then closes it as timed_out and rolls up the verdict', async () => {
    const dispatcher = await start({ DISPATCH_SWEEP_MS: '200', DISPATCH_GRACE_SECONDS: '0' });
    try {
      const longAgo = new Date(Date.now() - 3_600_000);
      const { executionId, taskIds } = await storeExecution(db, [{ ...LINUX, timeoutSeconds: 1, maxAttempts: 2 }], { executedAt: longAgo });
      const [taskId] = taskIds;

      const first = await eventually(async () => agentTasks.forTask(taskId)[0]);
      expect(first.body['attempt']).toBe(1);
      const second = await eventually(async () => agentTasks.forTask(taskId)[1], 15_000);
      expect(second.body['attempt']).toBe(2);
      expect(second.properties.messageId).toBe(`${taskId}:2`);

      const closed = await eventually(async () => {
        const row = await taskRow(db, taskId);
        return row.status === 'timed_out' ? row : null;
      }, 15_000);
      expect(closed).toMatchObject({ attempts: 2, last_error: 'no answer after 2 attempts' });
      expect(closed.completed_at).toBeInstanceOf(Date);
      expect(await verdictOf(db, executionId)).toBe('error');
      // no third attempt
      await new Promise((r) => setTimeout(r, 500));
      expect(agentTasks.forTask(taskId)).toHaveLength(2);
    } finally {
      await dispatcher.close();
    }
  });
});
