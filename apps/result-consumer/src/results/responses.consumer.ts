import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  CorrelatedLog,
  RecordDetectionResult,
  checkingQueue,
  correlationIdOf,
  dispositionOnFailure,
  parseDetectionResponse,
} from '@purple/checking';
import { ACK, ConsumerFactory, ConsumerHandle, Disposition } from '@purple/messaging';
import { DatabaseConnector } from '@purple/persistence';
import { CHECKING_QUEUES } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { CheckingConsumerEnv } from '@purple/checking';

/**
 * Workers' detection responses (both queues) → results, task statuses and verdicts. The message is acked only after
 * the transaction has committed; a response that can never be recorded (invalid, or for a task that does not exist)
 * is dead-lettered with the reason in `x-rejection-reason`; one that fails because the database is down is kept,
 * and consumption pauses until the database answers.
 */
@Injectable()
export class ResponsesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Results');
  private running: ConsumerHandle[] = [];

  constructor(
    private readonly consumers: ConsumerFactory,
    private readonly database: DatabaseConnector,
    private readonly recordResult: RecordDetectionResult,
    private readonly config: CheckingConsumerEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.running = [CHECKING_QUEUES.apiResponses, CHECKING_QUEUES.agentResponses].map((queue) =>
      this.consumers.create(checkingQueue(queue, this.database.gate), ({ message }) => this.record(message)),
    );
    for (const consumer of this.running) consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.running.map((consumer) => consumer.stop()));
  }

  async record(message: ConsumeMessage): Promise<Disposition> {
    const log = CorrelatedLog.of(this.logger, correlationIdOf(message.properties), {
      message_id: message.properties.messageId,
      routing_key: message.fields.routingKey,
    });
    try {
      const outcome = await this.recordResult.execute(parseDetectionResponse(message.content, this.config.MAX_MESSAGE_BYTES));
      // the execution's own correlation id, carried from Caldera's message
      const about = log.with({
        correlation_id: outcome.correlationId,
        execution_id: outcome.executionId,
        task_id: outcome.taskId,
        attempt: outcome.attempt,
      });
      if (outcome.stored) {
        about.log(`recorded ${outcome.resultStatus}; task ${outcome.taskStatus}; verdict ${outcome.verdict}`);
      } else {
        about.log('response delivered again; this attempt already has its result, nothing changed');
      }
      return ACK;
    } catch (error) {
      const disposition = dispositionOnFailure(error);
      if (disposition.action === 'dead-letter') log.warn(`dead-lettering the detection response: ${disposition.reason}`);
      else log.warn(`could not record the response (${(error as Error).message}); kept until the database answers`);
      return disposition;
    }
  }
}
