import { AmqpConnection, Nack } from '@golevelup/nestjs-rabbitmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  CorrelatedLog,
  RecordDetectionResult,
  consumeQueue,
  correlationIdOf,
  decideOnFailure,
  parseDetectionResponse,
  stopConsuming,
} from '@purple/checking';
import { deadLetterWithReason } from '@purple/messaging';
import { sleep } from '@purple/platform';
import { CHECKING_DLX, CHECKING_QUEUES } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { CheckingConsumerEnv } from '@purple/checking';

/**
 * Workers' detection responses (both queues) → results, task statuses and verdicts. The handler returns (and the
 * message is acked) only after the transaction has committed; a response that can never be recorded (invalid, or
 * for a task that does not exist) is dead-lettered with the reason in `x-rejection-reason`; one that fails because
 * the database is down goes back to the queue after a pause.
 */
@Injectable()
export class ResponsesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Results');

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly recordResult: RecordDetectionResult,
    private readonly config: CheckingConsumerEnv,
  ) {}

  onApplicationBootstrap(): void {
    for (const queue of [CHECKING_QUEUES.apiResponses, CHECKING_QUEUES.agentResponses]) {
      consumeQueue(this.amqp, {
        queue,
        name: 'ResponsesConsumer',
        handle: (body, message) => this.record(body, message),
        onError: deadLetterWithReason(CHECKING_DLX, queue),
      });
    }
  }

  beforeApplicationShutdown(): Promise<void> {
    return stopConsuming(this.amqp);
  }

  async record(body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    const log = CorrelatedLog.of(this.logger, correlationIdOf(message.properties), {
      message_id: message.properties.messageId,
      routing_key: message.fields.routingKey,
    });
    try {
      const outcome = await this.recordResult.execute(parseDetectionResponse(body, this.config.MAX_MESSAGE_BYTES));
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
    } catch (error) {
      const decision = decideOnFailure(error, message.properties.headers, this.config.RETRY_MAX_DELAY_MS);
      if (decision.action === 'retry') {
        log.warn(`could not record the response (${decision.reason}); back on the queue in ${decision.delayMs} ms`);
        await sleep(decision.delayMs);
        return new Nack(true);
      }
      log.warn(`dead-lettering the detection response: ${decision.reason}`);
      throw error;
    }
  }
}
