import { AmqpConnection, Nack } from '@golevelup/nestjs-rabbitmq';
import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import {
  CorrelatedLog,
  IngestExecution,
  consumeQueue,
  correlationIdOf,
  decideOnFailure,
  dedupeKeyOf,
  parseInstruction,
  stopConsuming,
} from '@purple/checking';
import { deadLetterWithReason } from '@purple/messaging';
import { sleep } from '@purple/platform';
import { CHECKING_DLX, CHECKING_QUEUES } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { CheckingConsumerEnv } from '@purple/checking';

/**
 * Caldera's execution results → PostgreSQL. The handler returns (and the message is acked) only after the
 * transaction has committed; a message that can never be stored is dead-lettered with the reason in
 * `x-rejection-reason`; one that fails because the database is down goes back to the queue after a pause.
 */
@Injectable()
export class InstructionsConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Ingest');

  constructor(
    private readonly amqp: AmqpConnection,
    private readonly ingest: IngestExecution,
    private readonly config: CheckingConsumerEnv,
  ) {}

  onApplicationBootstrap(): void {
    consumeQueue(this.amqp, {
      queue: CHECKING_QUEUES.instructions,
      name: 'InstructionsConsumer',
      handle: (body, message) => this.onExecutionResult(body, message),
      onError: deadLetterWithReason(CHECKING_DLX, CHECKING_QUEUES.instructions),
    });
  }

  beforeApplicationShutdown(): Promise<void> {
    return stopConsuming(this.amqp);
  }

  async onExecutionResult(body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    const { messageId, headers } = message.properties;
    const correlationId = correlationIdOf(message.properties);
    const log = CorrelatedLog.of(this.logger, correlationId, { message_id: messageId });
    try {
      const execution = parseInstruction(body, this.config.MAX_MESSAGE_BYTES);
      const stored = await this.ingest.execute(execution, { dedupeKey: dedupeKeyOf(execution.linkId, messageId, body), correlationId });
      // a redelivery is logged under the correlation id the execution was stored with
      const about = log.with({ execution_id: stored.executionId, correlation_id: stored.correlationId });
      if (stored.created) {
        about.log(
          `stored the execution of "${execution.command}" on ${execution.agentHost} (operation ${execution.operationId}) ` +
            `with ${stored.taskIds.length} detection task(s); verdict ${stored.verdict}`,
        );
      } else {
        about.log('execution delivered again; already stored, nothing created');
      }
    } catch (error) {
      const decision = decideOnFailure(error, headers, this.config.RETRY_MAX_DELAY_MS);
      if (decision.action === 'retry') {
        log.warn(`could not store the execution (${decision.reason}); back on the queue in ${decision.delayMs} ms`);
        await sleep(decision.delayMs);
        return new Nack(true);
      }
      log.warn(`dead-lettering the execution result: ${decision.reason}`);
      throw error;
    }
  }
}
