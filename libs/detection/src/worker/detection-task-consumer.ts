import 'reflect-metadata';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { ConsumeMessage } from 'amqplib';
import { DetectionResponseMessage, DetectionTaskMessage, DetectionType, MessageValidationError, parseJsonMessage } from '@purple/contracts';
import { ACK, ConfirmedPublisher, ConsumerFactory, ConsumerHandle, Disposition, REQUEUE, deadLetter } from '@purple/messaging';
import { backoffDelay } from '@purple/platform';
import { CHECKING_DLX, CHECKING_EXCHANGE, CHECKING_QUEUES, ROUTING_KEYS } from '@purple/topology';
import { ConnectorRegistry } from '../connectors/registry';
import { CLOCK, Clock } from '../semantics/clock';
import { DetectionAbortedError } from '../semantics/run-detection';
import { AnswerDetectionTask } from './answer-detection-task';
import { WORKER_SETTINGS, WorkerSettings } from './worker-settings';

const TASK_QUEUES: Record<DetectionType, string> = { api: CHECKING_QUEUES.apiTasks, agent: CHECKING_QUEUES.agentTasks };
const RESPONSE_KEYS: Record<DetectionType, string> = { api: ROUTING_KEYS.apiResponse, agent: ROUTING_KEYS.agentResponse };
/** tries to get the broker's confirm for a response before the task goes back to the queue */
const PUBLISH_ATTEMPTS = 5;

/**
 * The worker runtime: consumes its pool's task queue and, for each task, publishes a response (with the broker's
 * confirm) and only then acks. Nothing is silent:
 * - a malformed task is dead-lettered with the reason in `x-rejection-reason`;
 * - a task is answered `unsupported`, `error`, `detected` or `not_detected`;
 * - a response the broker will not confirm, or a shutdown mid-task, puts the task back on the queue for another
 *   worker (the answer is idempotent: the result consumer keeps one result per task attempt).
 */
@Injectable()
export class DetectionTaskConsumer implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('DetectionWorker');
  private readonly shutdown = new AbortController();
  private readonly queue: string;
  private readonly responseKey: string;
  private consumer?: ConsumerHandle;

  constructor(
    private readonly consumers: ConsumerFactory,
    private readonly publisher: ConfirmedPublisher,
    private readonly answerTask: AnswerDetectionTask,
    private readonly registry: ConnectorRegistry,
    @Inject(WORKER_SETTINGS) private readonly settings: WorkerSettings,
    @Inject(CLOCK) private readonly clock: Clock,
  ) {
    this.queue = TASK_QUEUES[settings.detectionType];
    this.responseKey = RESPONSE_KEYS[settings.detectionType];
  }

  onApplicationBootstrap(): void {
    this.consumer = this.consumers.create(
      {
        queue: this.queue,
        deadLetterExchange: CHECKING_DLX,
        deadLetterRoutingKey: this.queue,
        retryBaseMs: 500,
        retryMaxMs: 30_000,
        prefetch: this.settings.prefetch,
      },
      ({ message }) => this.handle(message),
    );
    this.consumer.start();
    const connectors = this.registry.names;
    this.logger.log(
      `answering ${this.settings.detectionType} tasks from ${this.queue} as ${this.settings.workerId}; ` +
        `connectors: ${connectors.length > 0 ? connectors.join(', ') : 'none (every task is answered unsupported)'}`,
    );
  }

  /**
   * Stops taking tasks, then stops waiting and searching at once: the tasks in hand go back to the queue (see
   * handle) for the other workers, rather than holding the shutdown for as long as their search windows last.
   */
  async beforeApplicationShutdown(): Promise<void> {
    const stopped = this.consumer?.stop();
    this.shutdown.abort();
    await stopped;
  }

  private async handle(msg: ConsumeMessage): Promise<Disposition> {
    const parsed = parseJsonMessage(DetectionTaskMessage, msg.content);
    if (!parsed.ok) return this.reject(msg, new MessageValidationError(parsed.errors, 'detection task').message);
    const task = parsed.value;
    if (task.detection_type !== this.settings.detectionType) {
      return this.reject(msg, `detection_type "${task.detection_type}" does not belong on ${this.queue}`);
    }
    const correlationId = msg.properties.correlationId ?? task.correlation_id;
    const context = { task_id: task.task_id, attempt: task.attempt ?? 1, correlation_id: correlationId };
    if (msg.fields.redelivered) this.logger.log({ msg: 'task redelivered; answering it again', ...context });

    let response: DetectionResponseMessage;
    try {
      response = await this.answerTask.execute(task, this.shutdown.signal);
    } catch (error) {
      if (!(error instanceof DetectionAbortedError)) throw error;
      this.logger.log({ msg: 'shutting down: task returned to the queue', ...context });
      return REQUEUE;
    }

    if (!(await this.publishResponse(response, correlationId, context))) return REQUEUE;
    this.logger.log({ msg: `task answered ${response.status}`, ...context, connector: task.connector, events_found: response.results.events_found });
    return ACK;
  }

  /** true once the broker has confirmed the response; false after the last attempt (the task is then requeued) */
  private async publishResponse(response: DetectionResponseMessage, correlationId: string | undefined, context: object): Promise<boolean> {
    for (let attempt = 1; ; attempt++) {
      try {
        await this.publisher.publish(CHECKING_EXCHANGE, this.responseKey, response, {
          messageId: response.detection_id,
          correlationId,
        });
        return true;
      } catch (error) {
        const reason = (error as Error).message;
        if (attempt >= PUBLISH_ATTEMPTS || this.shutdown.signal.aborted || !this.publisher.connected) {
          this.logger.warn({ msg: `response not confirmed (${reason}); task returned to the queue`, ...context });
          return false;
        }
        await this.clock.sleep(backoffDelay(attempt, 250, 5000)).catch(() => undefined);
      }
    }
  }

  private reject(msg: ConsumeMessage, reason: string): Disposition {
    this.logger.warn({ msg: 'task dead-lettered', reason, message_id: msg.properties.messageId, correlation_id: msg.properties.correlationId });
    return deadLetter(reason);
  }
}
