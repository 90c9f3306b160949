import { INestApplication } from '@nestjs/common';
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

  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    worker = await startTestService('agent-worker', (env) => AgentWorkerModule.register(env), broker, db.url, { WORKER_ID: 'agent-1' });
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
  }, 60_000);

  it('answers a host command unsupported on checking.agent.response: no executor is configured', async () => {
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
