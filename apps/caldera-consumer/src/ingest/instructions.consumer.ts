import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  CorrelatedLog,
  IngestExecution,
  checkingQueue,
  correlationIdOf,
  dedupeKeyOf,
  dispositionOnFailure,
  parseInstruction,
} from '@purple/checking';
import { ACK, ConsumerFactory, ConsumerHandle, Disposition } from '@purple/messaging';
import { DatabaseConnector } from '@purple/persistence';
import { CHECKING_QUEUES } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { CheckingConsumerEnv } from '@purple/checking';

/**
 * Caldera's execution results → PostgreSQL. The handler returns (and the message is acked) only after the
 * transaction has committed; a message that can never be stored is dead-lettered with the reason in
 * `x-rejection-reason`; one that fails because the database is down is kept, and consumption pauses until the
 * database answers.
 */
@Injectable()
export class InstructionsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Ingest');
  private consumer?: ConsumerHandle;

  constructor(
    private readonly consumers: ConsumerFactory,
    private readonly database: DatabaseConnector,
    private readonly ingest: IngestExecution,
    private readonly config: CheckingConsumerEnv,
  ) {}

  onApplicationBootstrap(): void {
    this.consumer = this.consumers.create(checkingQueue(CHECKING_QUEUES.instructions, this.database.gate), ({ message }) =>
      this.onExecutionResult(message.content, message),
    );
    this.consumer.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.consumer?.stop();
  }

  async onExecutionResult(body: Buffer, message: ConsumeMessage): Promise<Disposition> {
    const { messageId } = message.properties;
    const correlationId = correlationIdOf(message.properties);
    const log = CorrelatedLog.of(this.logger, correlationId, { message_id: messageId });
    try {
      const execution = parseInstruction(body, this.config.MAX_MESSAGE_BYTES);
      const stored = await this.ingest.execute(execution, { dedupeKey: dedupeKeyOf(execution.linkId, messageId, body), correlationId });
      // a redelivery is logged under the correlation id the execution was stored with
      const about = log.with({ execution_id: stored.executionId, correlation_id: stored.correlationId });
      if (stored.created) {
        about.log(
          `stored the execution of "${execution.command}" on ${execution.agentHost || `agent ${execution.agentPaw}`} (operation ${execution.operationId}) ` +
            `with ${stored.taskIds.length} detection task(s); verdict ${stored.verdict}`,
        );
      } else {
        about.log('execution delivered again; already stored, nothing created');
      }
      return ACK;
    } catch (error) {
      const disposition = dispositionOnFailure(error);
      if (disposition.action === 'dead-letter') log.warn(`dead-lettering the execution result: ${disposition.reason}`);
      else log.warn(`could not store the execution (${(error as Error).message}); kept until the database answers`);
      return disposition;
    }
  }
}
