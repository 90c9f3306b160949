import { Nack, RabbitSubscribe, requeueErrorHandler } from '@golevelup/nestjs-rabbitmq';
import { Injectable, Logger } from '@nestjs/common';
import { CorrelatedLog, RecordDeadLetter, correlationIdOf, retryDelayMs } from '@purple/checking';
import { sleep } from '@purple/platform';
import { CHECKING_QUEUES, deadLetterQueueOf } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { ResultConsumerEnv } from '../config';

/**
 * Subscribes to the dead-letter queue of `queue`. A dead-letter queue is the end of the line: nothing here is
 * ever dropped, so a failure hands the message back to the queue (see `keep`), and so does any error that
 * escapes.
 */
const deadLettersOf = (queue: string) => ({
  queue: deadLetterQueueOf(queue),
  createQueueIfNotExists: false,
  allowNonJsonMessages: true,
  deserializer: (content: Buffer) => content,
  errorHandler: requeueErrorHandler,
});

/**
 * Drains the five dead-letter queues into the `dead_letter` table, where the API lists them and an operator
 * replays them; each message is acked only once its row is stored.
 */
@Injectable()
export class DeadLetterQueuesConsumer {
  private readonly logger = new Logger('DeadLetters');

  constructor(
    private readonly recordDeadLetter: RecordDeadLetter,
    private readonly config: ResultConsumerEnv,
  ) {}

  @RabbitSubscribe(deadLettersOf(CHECKING_QUEUES.instructions))
  onInstructionsDeadLetter(_body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    return this.keep(message, deadLetterQueueOf(CHECKING_QUEUES.instructions));
  }

  @RabbitSubscribe(deadLettersOf(CHECKING_QUEUES.apiTasks))
  onApiTaskDeadLetter(_body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    return this.keep(message, deadLetterQueueOf(CHECKING_QUEUES.apiTasks));
  }

  @RabbitSubscribe(deadLettersOf(CHECKING_QUEUES.agentTasks))
  onAgentTaskDeadLetter(_body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    return this.keep(message, deadLetterQueueOf(CHECKING_QUEUES.agentTasks));
  }

  @RabbitSubscribe(deadLettersOf(CHECKING_QUEUES.apiResponses))
  onApiResponseDeadLetter(_body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    return this.keep(message, deadLetterQueueOf(CHECKING_QUEUES.apiResponses));
  }

  @RabbitSubscribe(deadLettersOf(CHECKING_QUEUES.agentResponses))
  onAgentResponseDeadLetter(_body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    return this.keep(message, deadLetterQueueOf(CHECKING_QUEUES.agentResponses));
  }

  private async keep(message: ConsumeMessage, deadLetterQueue: string): Promise<Nack | void> {
    const log = CorrelatedLog.of(this.logger, correlationIdOf(message.properties), {
      message_id: message.properties.messageId,
      dead_letter_queue: deadLetterQueue,
    });
    try {
      const recorded = await this.recordDeadLetter.execute(message, deadLetterQueue);
      if (recorded.id) log.warn(`dead letter from ${recorded.queue} recorded as ${recorded.id}: ${recorded.reason}`);
      else log.log(`dead letter from ${recorded.queue} delivered again; already recorded`);
    } catch (error) {
      // whatever the failure, the message stays in its dead-letter queue until it can be recorded
      const delayMs = retryDelayMs(message.properties.headers, this.config.RETRY_MAX_DELAY_MS);
      log.error(`could not record the dead letter (${(error as Error).message}); back on the queue in ${delayMs} ms`);
      await sleep(delayMs);
      return new Nack(true);
    }
  }
}
