import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { DispatchPendingTasks, TaskPublisher } from './dispatch-pending-tasks.use-case';
import { ExpireOverdueTasks } from './expire-overdue-tasks.use-case';
import { ClaimedTask, DispatchTaskRepository, OverdueBatch, OverdueTask, PendingBatch } from '../tasks/task.repository';
import { buildTaskMessage, queryTypeOf } from './task-message';

const DEFAULTS = {
  windowBeforeSeconds: 300,
  windowAfterSeconds: 60,
  initialDelaySeconds: 0,
  retryIntervalSeconds: 10,
  maxConsecutiveFailures: 3,
  jitterSeconds: 0,
  maxWindowAfterSeconds: 1200,
};
const SETTINGS = { batchSize: 2, graceSeconds: 5, sweepMs: 1000 };
const EXECUTED_AT = new Date('2025-01-10T12:00:00Z');

function claimed(id: string, overrides: Partial<ClaimedTask> = {}): ClaimedTask {
  return {
    id,
    executionId: 'exec-1',
    detectionType: 'api',
    platform: 'siem',
    connector: 'splunk',
    query: 'index=main',
    config: {},
    priority: 'medium',
    timeoutSeconds: 30,
    attempts: 0,
    maxAttempts: 3,
    createdAt: new Date('2025-01-10T12:00:01Z'),
    calderaOperationId: 'op-1',
    agentHost: 'web-01',
    agentPaw: 'paw',
    command: 'whoami',
    executedAt: EXECUTED_AT,
    calderaLinkId: null,
    correlationId: 'corr-1',
    executionVerdict: 'pending',
    marker: 'pm-0a1b2c3d4e5f',
    recheckOf: null,
    ...overrides,
  };
}

/** Records what the use case does to the task repository, batch by batch, in order. */
class FakeTaskRepository implements DispatchTaskRepository {
  available = true;
  readonly events: string[] = [];
  constructor(
    private pending: ClaimedTask[],
    private overdue: OverdueTask[] = [],
  ) {}

  async withPendingBatch<T>(limit: number, work: (batch: PendingBatch) => Promise<T>): Promise<T> {
    const tasks = this.pending.splice(0, limit);
    this.events.push(`claim ${tasks.map((t) => t.id).join(',')}`);
    return work({
      tasks,
      markDispatched: async (task, attempt, closesAt, extra) => void this.events.push(`dispatched ${task.id}#${attempt} ${closesAt.toISOString()}+${extra}`),
      markFailed: async (task, reason) => void this.events.push(`failed ${task.id}: ${reason}`),
      noteUnsent: async (task, reason) => void this.events.push(`unsent ${task.id}: ${reason}`),
    });
  }

  async withOverdueBatch<T>(limit: number, work: (batch: OverdueBatch) => Promise<T>): Promise<T> {
    const tasks = this.overdue.splice(0, limit);
    return work({
      tasks,
      retry: async (task, reason) => void this.events.push(`retry ${task.id}: ${reason}`),
      timeOut: async (task, reason) => void this.events.push(`timeout ${task.id}: ${reason}`),
    });
  }
}

class FakePublisher implements TaskPublisher {
  connected = true;
  readonly published: Array<{ routingKey: string; body: Record<string, unknown>; messageId: string; correlationId?: string }> = [];
  constructor(
    private readonly events: string[],
    private readonly refuse: (taskId: string) => boolean = () => false,
  ) {}
  async publish(_exchange: string, routingKey: string, body: unknown, options: { messageId: string; correlationId?: string }) {
    const taskId = (body as { task_id: string }).task_id;
    if (this.refuse(taskId)) throw new Error('broker did not confirm the message: nacked');
    this.events.push(`published ${options.messageId}`);
    this.published.push({ routingKey, body: body as Record<string, unknown>, ...options });
    return options.messageId;
  }
}

// the use cases log every decision; here the events say it
beforeAll(() => Logger.overrideLogger(false));

describe('DispatchPendingTasks', () => {
  it('marks each task dispatched only after its publish was confirmed, batch after batch', async () => {
    const tasks = new FakeTaskRepository([claimed('a'), claimed('b', { attempts: 1 }), claimed('c', { detectionType: 'agent', connector: 'bash' })]);
    const publisher = new FakePublisher(tasks.events);
    const report = await new DispatchPendingTasks(tasks, publisher, SETTINGS, DEFAULTS).execute();

    expect(report).toEqual({ dispatched: 3, failed: 0, unsent: 0 });
    // the window closes 60 s after the execution; then 2 × 30 s timeout + 5 s grace
    expect(tasks.events).toEqual([
      'claim a,b',
      'published a:1',
      'published b:2',
      'dispatched a#1 2025-01-10T12:01:00.000Z+65',
      'dispatched b#2 2025-01-10T12:01:00.000Z+65',
      'claim c',
      'published c:1',
      'dispatched c#1 2025-01-10T12:01:00.000Z+65',
    ]);
    expect(publisher.published.map((p) => p.routingKey)).toEqual(['checking.api.task', 'checking.api.task', 'checking.agent.task']);
    expect(publisher.published[0].correlationId).toBe('corr-1');
  });

  it('leaves a task the broker refused pending, with the reason, and stops claiming', async () => {
    const tasks = new FakeTaskRepository([claimed('a'), claimed('b'), claimed('c')]);
    const publisher = new FakePublisher(tasks.events, (id) => id === 'b');
    const report = await new DispatchPendingTasks(tasks, publisher, SETTINGS, DEFAULTS).execute();

    expect(report).toEqual({ dispatched: 1, failed: 0, unsent: 1 });
    expect(tasks.events).toContain('unsent b: not dispatched: broker did not confirm the message: nacked');
    expect(tasks.events.filter((e) => e.startsWith('claim'))).toEqual(['claim a,b']);
  });

  it('claims nothing while the broker is disconnected', async () => {
    const tasks = new FakeTaskRepository([claimed('a')]);
    const publisher = new FakePublisher(tasks.events);
    publisher.connected = false;
    expect(await new DispatchPendingTasks(tasks, publisher, SETTINGS, DEFAULTS).execute()).toEqual({ dispatched: 0, failed: 0, unsent: 0 });
    expect(tasks.events).toEqual([]);
  });

  it('fails a task that cannot become a valid message, without publishing it', async () => {
    const tasks = new FakeTaskRepository([claimed('a', { agentHost: '' })]);
    const publisher = new FakePublisher(tasks.events);
    await new DispatchPendingTasks(tasks, publisher, SETTINGS, DEFAULTS).execute();
    expect(tasks.events).toEqual(['claim a', 'failed a: cannot be sent as a valid task message: metadata.execution_context.target_host should not be empty']);
    expect(publisher.published).toEqual([]);
  });
});

describe('DispatchPendingTasks with learned delays', () => {
  it("sends a task whose ability set no delay with its source's learned p90, bounded; the ability's own delay wins", async () => {
    const tasks = new FakeTaskRepository([
      claimed('a'),
      claimed('b', { connector: 'crowdstrike' }),
      claimed('c', { config: { initial_delay_seconds: 7 } }),
      claimed('d', { connector: 'sentinel' }),
    ]);
    const delays: Record<string, unknown> = {};
    const base = tasks.withPendingBatch.bind(tasks);
    tasks.withPendingBatch = (limit, work) =>
      base(limit, (batch) =>
        work({ ...batch, markDispatched: async (task, _attempt, _closes, _extra, delay) => void (delays[task.id] = delay) }),
      );
    Object.assign(tasks, { learnedIngestionDelays: async () => new Map([['splunk', 42_300], ['crowdstrike', 3_600_000]]) });
    const publisher = new FakePublisher(tasks.events);
    const learning = { enabled: true, minSeconds: 0, maxSeconds: 600, minSamples: 5, refreshMs: 60_000 };
    await new DispatchPendingTasks(tasks, publisher, { ...SETTINGS, batchSize: 10 }, DEFAULTS, learning).execute();
    expect(delays).toEqual({
      a: { seconds: 43, source: 'learned' },
      b: { seconds: 600, source: 'learned' },
      c: { seconds: 7, source: 'ability' },
      d: { seconds: DEFAULTS.initialDelaySeconds, source: 'default' },
    });
    const sent = Object.fromEntries(publisher.published.map((p) => [p.body['task_id'], p.body['detection_config'] as Record<string, unknown>]));
    expect(sent['a']['initial_delay_seconds']).toBe(43);
    expect(sent['c']['initial_delay_seconds']).toBe(7);
  });
});

describe('buildTaskMessage', () => {
  it('writes the resolved detection settings into detection_config and omits a missing link id', () => {
    const message = buildTaskMessage(claimed('a', { config: { window_after_seconds: 5, placeholders: { user: 'bob' } } }), 2, {
      ...DEFAULTS,
      windowAfterSeconds: 5,
    });
    expect(message.detection_config).toEqual({
      placeholders: { user: 'bob' },
      jitter_seconds: 0,
      window_before_seconds: 300,
      window_after_seconds: 5,
      initial_delay_seconds: 0,
      retry_interval_seconds: 10,
      max_consecutive_failures: 3,
    });
    expect(message.attempt).toBe(2);
    expect(message.metadata.execution_context).not.toHaveProperty('link_id');
  });

  it('names the query type as the seed does', () => {
    expect(queryTypeOf({ connector: 'splunk', detectionType: 'api' })).toBe('splunk_search');
    expect(queryTypeOf({ connector: 'PowerShell', detectionType: 'agent' })).toBe('powershell_command');
    expect(queryTypeOf({ connector: 'elastic-eql', detectionType: 'api' })).toBe('elastic_eql_search');
  });
});

describe('ExpireOverdueTasks', () => {
  it('sends a task again while it has attempts left, then times it out', async () => {
    const tasks = new FakeTaskRepository(
      [],
      [
        { id: 'a', executionId: 'e', attempts: 1, maxAttempts: 3 },
        { id: 'b', executionId: 'e', attempts: 3, maxAttempts: 3 },
        { id: 'c', executionId: 'e', attempts: 1, maxAttempts: 1 },
      ],
    );
    expect(await new ExpireOverdueTasks(tasks, SETTINGS).execute()).toEqual({ retried: 1, timedOut: 2 });
    expect(tasks.events).toEqual([
      'retry a: no answer to attempt 1 by its deadline; sending it again',
      'timeout b: no answer after 3 attempts',
      'timeout c: no answer after 1 attempt',
    ]);
  });
});
