import { Nack, RabbitSubscribe } from '@golevelup/nestjs-rabbitmq';
import { Injectable, Logger } from '@nestjs/common';
import { CorrelatedLog, IngestExecution, correlationIdOf, decideOnFailure, dedupeKeyOf, parseInstruction } from '@purple/checking';
import { deadLetterWithReason } from '@purple/messaging';
import { sleep } from '@purple/platform';
import { CHECKING_DLX, CHECKING_QUEUES } from '@purple/topology';
import type { ConsumeMessage } from 'amqplib';
import { CalderaConsumerEnv } from '../config';

/**
 * Caldera's execution results → PostgreSQL. The handler returns (and golevelup acks) only after the transaction
 * has committed; a message that can never be stored is dead-lettered with the reason in `x-rejection-reason`.
 */
@Injectable()
export class InstructionsConsumer {
  private readonly logger = new Logger('Ingest');

  constructor(
    private readonly ingest: IngestExecution,
    private readonly config: CalderaConsumerEnv,
  ) {}

  @RabbitSubscribe({
    queue: CHECKING_QUEUES.instructions,
    createQueueIfNotExists: false,
    // the raw body reaches the handler, so broken JSON is dead-lettered with a reason like any other bad input
    allowNonJsonMessages: true,
    deserializer: (content: Buffer) => content,
    errorHandler: deadLetterWithReason(CHECKING_DLX, CHECKING_QUEUES.instructions),
  })
  async onExecutionResult(body: Buffer, message: ConsumeMessage): Promise<Nack | void> {
    const { messageId, headers } = message.properties;
    const correlationId = correlationIdOf(message.properties);
    const log = CorrelatedLog.of(this.logger, correlationId, { message_id: messageId });
    try {
      const execution = parseInstruction(body, this.config.MAX_MESSAGE_BYTES);
      const stored = await this.ingest.execute(execution, {
        dedupeKey: dedupeKeyOf(execution.linkId, messageId, body),
        correlationId,
      });
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
