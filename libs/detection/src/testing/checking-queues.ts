/* Test helpers for the checking engine's queues: read them as the namespace's admin, publish tasks as its dispatcher. */
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import type { BrokerNamespace } from '@purple/testing';
import { CHECKING_EXCHANGE } from '@purple/topology';

export interface Received {
  body: Record<string, unknown>;
  properties: amqp.MessageProperties;
  fields: amqp.MessageFields;
}

/** What the namespace's admin reads from a queue, acked as it arrives. */
export class QueueReader {
  readonly messages: Received[] = [];
  private constructor(
    private readonly connection: amqp.ChannelModel,
    private readonly channel: amqp.Channel,
  ) {}

  static async start(broker: BrokerNamespace, queue: string): Promise<QueueReader> {
    const connection = await amqp.connect(broker.amqpUrl('caldera_admin', '/caldera_checking'));
    const channel = await connection.createChannel();
    const reader = new QueueReader(connection, channel);
    await channel.consume(queue, (msg) => {
      if (!msg) return;
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(msg.content.toString('utf8'));
      } catch {
        body = { unparsable: msg.content.toString('utf8') };
      }
      reader.messages.push({ body, properties: msg.properties, fields: msg.fields });
      channel.ack(msg);
    });
    return reader;
  }

  find(predicate: (m: Received) => boolean): Received | undefined {
    return this.messages.find(predicate);
  }

  forTask(taskId: string): Received[] {
    return this.messages.filter((m) => m.body['task_id'] === taskId);
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

/** Publishes tasks as the namespace's dispatcher would: persistent, confirmed. */
export class TaskPublisher {
  private constructor(
    private readonly connection: amqp.ChannelModel,
    private readonly channel: amqp.ConfirmChannel,
  ) {}

  static async start(broker: BrokerNamespace): Promise<TaskPublisher> {
    const connection = await amqp.connect(broker.amqpUrl('checking_dispatcher', '/caldera_checking'));
    return new TaskPublisher(connection, await connection.createConfirmChannel());
  }

  async publish(routingKey: string, body: unknown, correlationId?: string): Promise<void> {
    const content = Buffer.isBuffer(body) ? body : Buffer.from(typeof body === 'string' ? body : JSON.stringify(body));
    this.channel.publish(CHECKING_EXCHANGE, routingKey, content, { persistent: true, messageId: randomUUID(), correlationId });
    await this.channel.waitForConfirms();
  }

  async close(): Promise<void> {
    await this.connection.close().catch(() => undefined);
  }
}

/** A detection task in the dispatcher's format, executed now, with a search window of a few seconds. */
export function detectionTask(overrides: {
  connector?: string;
  query?: string;
  detectionType?: 'api' | 'agent';
  platform?: string;
  config?: Record<string, unknown>;
  executedAt?: Date;
  timeoutSeconds?: number;
} = {}): Record<string, unknown> & { task_id: string } {
  const executedAt = overrides.executedAt ?? new Date();
  return {
    task_id: randomUUID(),
    operation_id: 'op-12345',
    detection_type: overrides.detectionType ?? 'api',
    platform: overrides.platform ?? 'siem',
    query: { type: 'splunk_search', content: overrides.query ?? 'index=main host={{host}}', timeout_seconds: overrides.timeoutSeconds ?? 5 },
    metadata: {
      priority: 'high',
      created_at: new Date().toISOString(),
      execution_context: {
        original_command: 'whoami',
        target_host: 'target-machine.local',
        agent_paw: 'abc123def456',
        executed_at: executedAt.toISOString(),
        link_id: `link-${randomUUID().slice(0, 8)}`,
      },
    },
    execution_id: randomUUID(),
    attempt: 1,
    connector: overrides.connector ?? 'splunk',
    detection_config: {
      window_before_seconds: 60,
      window_after_seconds: 0,
      initial_delay_seconds: 0,
      retry_interval_seconds: 1,
      ...overrides.config,
    },
    correlation_id: `corr-${randomUUID()}`,
  };
}
