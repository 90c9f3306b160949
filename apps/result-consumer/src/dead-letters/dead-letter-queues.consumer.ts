import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { CorrelatedLog, RecordDeadLetter, checkingQueue, correlationIdOf, isTransientFailure, retryDelayMs } from '@purple/checking';
import { ACK, ConsumerFactory, ConsumerHandle, Delivery, Disposition, REQUEUE, RELEASE, retryWhenOpen } from '@purple/messaging';
import { DatabaseConnector } from '@purple/persistence';
import { pause } from '@purple/platform';
import { CHECKING_QUEUES, deadLetterQueueOf } from '@purple/topology';
import { CheckingConsumerEnv } from '@purple/checking';

/**
 * Drains the five dead-letter queues into the `dead_letter` table, where the API lists them and an operator
 * replays them; each message is acked only once its row is stored. A dead-letter queue is the end of the line:
 * nothing here is ever dropped. While the database is down the message is kept and consumption pauses; any other
 * failure hands the message back to its queue after a pause.
 */
@Injectable()
export class DeadLetterQueuesConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DeadLetters');
  private running: ConsumerHandle[] = [];

  constructor(
    private readonly consumers: ConsumerFactory,
    private readonly database: DatabaseConnector,
    private readonly recordDeadLetter: RecordDeadLetter,
    private readonly config: CheckingConsumerEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.running = Object.values(CHECKING_QUEUES)
      .map(deadLetterQueueOf)
      .map((queue) => this.consumers.create(checkingQueue(queue, this.database.gate), (delivery) => this.keep(delivery, queue)));
    for (const consumer of this.running) consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await Promise.all(this.running.map((consumer) => consumer.stop()));
  }

  async keep({ message, signal }: Delivery, deadLetterQueue: string): Promise<Disposition> {
    const log = CorrelatedLog.of(this.logger, correlationIdOf(message.properties), {
      message_id: message.properties.messageId,
      dead_letter_queue: deadLetterQueue,
    });
    try {
      const recorded = await this.recordDeadLetter.execute(message, deadLetterQueue);
      if (recorded.id) log.warn(`dead letter from ${recorded.queue} recorded as ${recorded.id}: ${recorded.reason}`);
      else log.log(`dead letter from ${recorded.queue} delivered again; already recorded`);
      return ACK;
    } catch (error) {
      const reason = (error as Error).message;
      if (isTransientFailure(error)) {
        log.warn(`could not record the dead letter (${reason}); kept until the database answers`);
        return retryWhenOpen(`database unavailable (${reason})`);
      }
      // never dead-lettered from here: it stays in its dead-letter queue until it can be recorded
      const delayMs = retryDelayMs(message.properties.headers, this.config.RETRY_MAX_DELAY_MS);
      log.error(`could not record the dead letter (${reason}); back on the queue in ${delayMs} ms`);
      return (await pause(delayMs, signal)) ? REQUEUE : RELEASE;
    }
  }
}
