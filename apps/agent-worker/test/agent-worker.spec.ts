import { INestApplication } from '@nestjs/common';
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionResponseMessage, validateMessage } from '@purple/contracts';
import { detectionTask, QueueReader, TaskPublisher } from '@purple/detection/testing';
import { BrokerNamespace, createBrokerNamespace, createTestDatabase, eventually, startTestService, TestDatabase } from '@purple/testing';
import { CHECKING_QUEUES, deadLetterQueueOf, ROUTING_KEYS } from '@purple/topology';
import { AgentWorkerModule } from '../src/app.module';

jest.setTimeout(30_000);

describe('agent-worker (real broker)', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let worker: INestApplication;
  let tasks: TaskPublisher;
  let responses: QueueReader;
  let deadLetters: QueueReader;
  /** the host's "log" the local executor greps, and where a refused command would have left a file */
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'agent-worker-'));
    // a root worker runs local commands as nobody, who must be able to read the log
    chmodSync(dir, 0o755);
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    worker = await startTestService('agent-worker', (env) => AgentWorkerModule.register(env), broker, db.url, {
      WORKER_ID: 'agent-1',
      LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/grep,/bin/echo',
    });
    [tasks, responses, deadLetters] = await Promise.all([
      TaskPublisher.start(broker),
      QueueReader.start(broker, CHECKING_QUEUES.agentResponses),
      QueueReader.start(broker, deadLetterQueueOf(CHECKING_QUEUES.agentTasks)),
    ]);
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await Promise.all([tasks?.close(), responses?.close(), deadLetters?.close()]);
    await Promise.all([broker?.dispose(), db?.drop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  }, 60_000);

  const responseTo = (taskId: string) => eventually(async () => responses.forTask(taskId)[0], 20_000);
  const linkIdOf = (task: Record<string, unknown>) =>
    ((task['metadata'] as Record<string, unknown>)['execution_context'] as Record<string, string>)['link_id'];

  it('answers a task for an executor this worker does not have unsupported, on checking.agent.response', async () => {
    const task = detectionTask({ detectionType: 'agent', platform: 'linux', connector: 'bash', query: "grep 'sudo' /var/log/auth.log" });
    await tasks.publish(ROUTING_KEYS.agentTask, task, task['correlation_id'] as string);

    const response = await eventually(async () => responses.forTask(task.task_id)[0]);
    expect(validateMessage(DetectionResponseMessage, response.body).ok).toBe(true);
    expect(response.body).toMatchObject({
      task_id: task.task_id,
      detection_type: 'agent',
      platform: 'linux',
      detected: false,
      status: 'unsupported',
      error: 'no agent connector "bash" is configured on this worker',
      metadata: { worker_id: 'agent-1' },
    });
    expect(response.fields.routingKey).toBe(ROUTING_KEYS.agentResponse);
    expect(response.properties.correlationId).toBe(task['correlation_id']);
  });

  it('runs a local command with an allowlisted program: detected when it finds the marker, not_detected when not', async () => {
    const log = join(dir, 'auth.log');
    const found = detectionTask({
      detectionType: 'agent',
      platform: 'linux',
      connector: 'local',
      query: `/usr/bin/grep -c {{marker}} ${log}`,
      config: { match: { exit_code: 0 } },
    });
    const missing = detectionTask({ detectionType: 'agent', platform: 'linux', connector: 'local', query: `/usr/bin/grep -c {{marker}} ${log}` });
    writeFileSync(log, `Jan 10 sshd[2]: Failed password for root (${linkIdOf(found)})\n`);
    await tasks.publish(ROUTING_KEYS.agentTask, found, found['correlation_id'] as string);
    await tasks.publish(ROUTING_KEYS.agentTask, missing, missing['correlation_id'] as string);

    const detected = await responseTo(found.task_id);
    expect(validateMessage(DetectionResponseMessage, detected.body).ok).toBe(true);
    expect(detected.body).toMatchObject({
      task_id: found.task_id,
      detection_type: 'agent',
      platform: 'linux',
      detected: true,
      status: 'detected',
      results: { events_found: 1, raw_output: 'exit code 0\n1\n' },
      evidence: [{ id: '1' }],
    });
    expect(detected.properties.correlationId).toBe(found['correlation_id']);
    expect((await responseTo(missing.task_id)).body).toMatchObject({
      detected: false,
      status: 'not_detected',
      results: { events_found: 0, raw_output: 'exit code 1\n0\n' },
    });
  });

  it('keeps a hostile red-team command one literal argument: no shell expands or runs any of it', async () => {
    const pwned = join(dir, 'pwned');
    const task = detectionTask({ detectionType: 'agent', platform: 'linux', connector: 'local', query: '/bin/echo ran: {{command}}' });
    const context = (task['metadata'] as Record<string, unknown>)['execution_context'] as Record<string, string>;
    context['original_command'] = `x"; /usr/bin/touch ${pwned} # $(id) $CHECKING_WORKER_PASSWORD`;
    await tasks.publish(ROUTING_KEYS.agentTask, task, task['correlation_id'] as string);

    expect((await responseTo(task.task_id)).body).toMatchObject({
      status: 'detected',
      results: { raw_output: `exit code 0\nran: ${context['original_command']}\n` },
    });
    expect(existsSync(pwned)).toBe(false);
  });

  it('answers a command whose program is not on the allowlist error, and runs nothing', async () => {
    const created = join(dir, 'created');
    const task = detectionTask({ detectionType: 'agent', platform: 'linux', connector: 'local', query: `/usr/bin/touch ${created}` });
    await tasks.publish(ROUTING_KEYS.agentTask, task, task['correlation_id'] as string);

    const response = await responseTo(task.task_id);
    expect(validateMessage(DetectionResponseMessage, response.body).ok).toBe(true);
    expect(response.body).toMatchObject({
      detected: false,
      status: 'error',
      error: 'local: the program /usr/bin/touch is not on LOCAL_EXECUTOR_ALLOWLIST; nothing was run',
    });
    expect(existsSync(created)).toBe(false);
  });

  it('dead-letters a malformed task, and an api task that reached the agent queue, with the reason', async () => {
    await tasks.publish(ROUTING_KEYS.agentTask, { task_id: 't-1' });
    await tasks.publish(ROUTING_KEYS.agentTask, detectionTask({ detectionType: 'api' }));

    await eventually(async () => deadLetters.messages.length >= 2);
    expect(deadLetters.messages.map((m) => m.properties.headers?.['x-rejection-reason'])).toEqual([
      'invalid detection task: operation_id is required; detection_type is required; platform is required; query is required; metadata is required',
      `detection_type "api" does not belong on ${CHECKING_QUEUES.agentTasks}`,
    ]);
  });
});
