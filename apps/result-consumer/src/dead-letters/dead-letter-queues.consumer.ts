import { AmqpConnection, Nack, requeueErrorHandler } from '@golevelup/nestjs-rabbitmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CorrelatedLog, RecordDeadLetter, consumeQueue, correlationIdOf, retryDelayMs, stopConsuming } from '@purple/checking';
import { sleep } from '@purple/platform';
import { CHECKING_QUEUES, deadLetterQueueOf } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { CheckingConsumerEnv } from '@purple/checking';

/**
 * Drains the five dead-letter queues into the `dead_letter` table, where the API lists them and an operator
 * replays them; each message is acked only once its row is stored. A dead-letter queue is the end of the line:
 * nothing here is ever dropped, so a failure hands the message back to its queue after a pause (see `keep`), and
 * so does any error that escapes.
 */
@Injectable()
export class DeadLetterQueuesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeadLetters');

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly recordDeadLetter: RecordDeadLetter,
    private readonly config: CheckingConsumerEnv,
  ) {}

  onApplicationBootstrap(): void {
    for (const queue of Object.values(CHECKING_QUEUES).map(deadLetterQueueOf)) {
      consumeQueue(this.amqp, {
        queue,
        name: 'DeadLetterQueuesConsumer',
        handle: (_body, message) => this.keep(message, queue),
        onError: requeueErrorHandler,
      });
    }
  }

  beforeApplicationShutdown(): Promise<void> {
    return stopConsuming(this.amqp);
  }

  async keep(message: ConsumeMessage, deadLetterQueue: string): Promise<Nack | void> {
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
