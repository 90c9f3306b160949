import { Nack, RabbitSubscribe } from '@golevelup/nestjs-rabbitmq';
import { Injectable, Logger } from '@nestjs/common';
import { CorrelatedLog, RecordDetectionResult, correlationIdOf, decideOnFailure, parseDetectionResponse } from '@purple/checking';
import { deadLetterWithReason } from '@purple/messaging';
import { sleep } from '@purple/platform';
import { CHECKING_DLX, CHECKING_QUEUES } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { ResultConsumerEnv } from '../config';

/** Subscribes to one response queue; the raw body reaches the handler, so broken JSON gets a reason too. */
const responseQueue = (queue: string) => ({
  queue,
  createQueueIfNotExists: false,
  allowNonJsonMessages: true,
  deserializer: (content: Buffer) => content,
  errorHandler: deadLetterWithReason(CHECKING_DLX, queue),
});

/**
 * Workers' detection responses → results, task statuses and verdicts. The handler returns (and golevelup acks)
 * only after the transaction has committed; a response that can never be recorded (invalid, or for a task that
 * does not exist) is dead-lettered with the reason in `x-rejection-reason`.
 */
@Injectable()
export class ResponsesConsumer {
  private readonly logger = new Logger('Results');

  constructor(
    private readonly recordResult: RecordDetectionResult,
    private readonly config: ResultConsumerEnv,
  ) {}

  @RabbitSubscribe(responseQueue(CHECKING_QUEUES.apiResponses))
  onApiResponse(body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    return this.record(body, message);
  }

  @RabbitSubscribe(responseQueue(CHECKING_QUEUES.agentResponses))
  onAgentResponse(body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    return this.record(body, message);
  }

  private async record(body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    const log = CorrelatedLog.of(this.logger, correlationIdOf(message.properties), {
      message_id: message.properties.messageId,
      queue: message.fields.routingKey,
    });
    try {
      const response = parseDetectionResponse(body, this.config.MAX_MESSAGE_BYTES);
      const outcome = await this.recordResult.execute(response);
      // the execution's own correlation id, carried from Caldera's message
      const about = log.with({
        correlation_id: outcome.correlationId,
        execution_id: outcome.executionId,
        task_id: outcome.taskId,
        attempt: outcome.attempt,
      });
      if (outcome.stored) {
        about.log(`recorded ${response.status ?? (response.detected ? 'detected' : 'not_detected')}; task ${outcome.taskStatus}; verdict ${outcome.verdict}`);
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
