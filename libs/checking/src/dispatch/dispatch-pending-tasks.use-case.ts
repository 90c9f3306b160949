import { Inject, Injectable, Logger, Optional } from '@nestjs/common';
import { DetectionTaskMessage, validateMessage } from '@purple/contracts';
import { DetectionSettings, drawJitter, resolveDetectionSettings, searchWindow } from '@purple/detection';
import { CHECKING_EXCHANGE } from '@purple/topology';
import { abilityInitialDelay, chooseInitialDelay } from '../purple/learned-delay';
import { ClaimedTask, DISPATCH_TASK_REPOSITORY, DispatchTaskRepository, InitialDelayChoice, PendingBatch } from '../tasks/task.repository';
import { DISPATCH_SETTINGS, DispatchSettings, LEARNED_DELAY_SETTINGS, LearnedDelaySettings } from './dispatch-settings';
import { TASK_ROUTING_KEYS, buildTaskMessage } from './task-message';

/** What the dispatcher publishes with (ConfirmedPublisher): resolves once the broker has confirmed. */
export interface TaskPublisher {
  readonly connected: boolean;
  publish(exchange: string, routingKey: string, body: unknown, options: { messageId: string; correlationId?: string }): Promise<string>;
}

export const TASK_PUBLISHER = Symbol('TASK_PUBLISHER');
export const DETECTION_DEFAULTS = Symbol('DETECTION_DEFAULTS');

export interface DispatchReport {
  dispatched: number;
  failed: number;
  unsent: number;
}

/**
 * Sends pending tasks to the workers: claims a batch (locked), publishes each as the seed's task message to
 * `checking.<type>.task` with the broker's confirm, and marks it dispatched, with its deadline, only then. A task
 * that cannot be sent stays pending for the next sweep; one that cannot become a valid message fails with the
 * reason. Batches repeat until no pending task is left or the broker refuses.
 */
@Injectable()
export class DispatchPendingTasks {
  private readonly logger = new Logger('Dispatcher');

  constructor(
    @Inject(DISPATCH_TASK_REPOSITORY) private readonly tasks: DispatchTaskRepository,
    @Inject(TASK_PUBLISHER) private readonly publisher: TaskPublisher,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
    @Inject(DETECTION_DEFAULTS) private readonly defaults: DetectionSettings & { maxWindowAfterSeconds: number },
    @Optional() @Inject(LEARNED_DELAY_SETTINGS) private readonly learning?: LearnedDelaySettings,
  ) {}

  private learned = new Map<string, number>();
  private learnedAt = -Infinity;

  /** The sources' learned ingestion delays, read again when older than the refresh interval. */
  private async refreshLearnedDelays(): Promise<void> {
    if (!this.learning?.enabled || !this.tasks.learnedIngestionDelays) return;
    if (Date.now() - this.learnedAt < this.learning.refreshMs) return;
    try {
      this.learned = await this.tasks.learnedIngestionDelays(this.learning.minSamples);
      this.learnedAt = Date.now();
    } catch (error) {
      // without them, the defaults apply: dispatching goes on
      this.logger.warn({ msg: `learned delays not read: ${(error as Error).message}` });
    }
  }

  async execute(): Promise<DispatchReport> {
    const total: DispatchReport = { dispatched: 0, failed: 0, unsent: 0 };
    if (this.tasks.available) await this.refreshLearnedDelays();
    // nothing is claimed (and locked) while there is no broker to send it to
    while (this.tasks.available && this.publisher.connected) {
      const { claimed, report } = await this.tasks.withPendingBatch(this.settings.batchSize, async (batch) => ({
        claimed: batch.tasks.length,
        report: await this.dispatchBatch(batch),
      }));
      total.dispatched += report.dispatched;
      total.failed += report.failed;
      total.unsent += report.unsent;
      if (claimed < this.settings.batchSize || report.unsent > 0) break;
    }
    return total;
  }

  /**
   * Publishes the batch's messages concurrently (confirms arrive together), then records each outcome, one
   * statement at a time on the batch's transaction.
   */
  private async dispatchBatch(batch: PendingBatch): Promise<DispatchReport> {
    const report: DispatchReport = { dispatched: 0, failed: 0, unsent: 0 };
    const outcomes = await Promise.all(batch.tasks.map((task) => this.send(task)));
    for (const outcome of outcomes) {
      const { task, attempt } = outcome;
      const context = { task_id: task.id, attempt, correlation_id: task.correlationId };
      if (outcome.kind === 'invalid') {
        this.logger.warn({ msg: `task failed: ${outcome.reason}`, ...context });
        await batch.markFailed(task, outcome.reason);
        report.failed += 1;
      } else if (outcome.kind === 'unsent') {
        this.logger.warn({ msg: outcome.reason, ...context });
        await batch.noteUnsent(task, outcome.reason);
        report.unsent += 1;
      } else {
        // a worker's last search starts when the window closes (or at once) and may follow one still running
        const extraSeconds = 2 * task.timeoutSeconds + this.settings.graceSeconds;
        await batch.markDispatched(task, attempt, outcome.searchClosesAt, extraSeconds, outcome.initialDelay);
        this.logger.log({ msg: `task dispatched to ${TASK_ROUTING_KEYS[task.detectionType]}`, ...context, connector: task.connector });
        report.dispatched += 1;
      }
    }
    return report;
  }

  private async send(task: ClaimedTask): Promise<SendOutcome> {
    const attempt = task.attempts + 1;
    const resolved = resolveDetectionSettings(task.config, this.defaults);
    const choice = chooseInitialDelay({
      abilitySeconds: abilityInitialDelay(task.config),
      learnedP90Ms: this.learned.get(task.connector),
      defaultSeconds: resolved.initialDelaySeconds,
      bounds: { enabled: this.learning?.enabled ?? false, minSeconds: this.learning?.minSeconds ?? 0, maxSeconds: this.learning?.maxSeconds ?? 0 },
    });
    const initialDelay: InitialDelayChoice = { seconds: Math.min(choice.seconds, this.defaults.maxWindowAfterSeconds), source: choice.source };
    const settings = drawJitter({ ...resolved, initialDelaySeconds: initialDelay.seconds }, this.defaults.maxWindowAfterSeconds);
    const message = buildTaskMessage(task, attempt, settings);
    const validation = validateMessage(DetectionTaskMessage, message);
    if (!validation.ok) {
      return { kind: 'invalid', task, attempt, reason: `cannot be sent as a valid task message: ${validation.errors.join('; ')}` };
    }
    try {
      await this.publisher.publish(CHECKING_EXCHANGE, TASK_ROUTING_KEYS[task.detectionType], message, {
        messageId: `${task.id}:${attempt}`,
        correlationId: task.correlationId,
      });
    } catch (error) {
      return { kind: 'unsent', task, attempt, reason: `not dispatched: ${(error as Error).message}` };
    }
    return {
      kind: 'sent',
      task,
      attempt,
      searchClosesAt: searchWindow(task.executedAt, settings).closesAt,
      initialDelay: { seconds: settings.initialDelaySeconds, source: initialDelay.source },
    };
  }
}

type SendOutcome =
  | { kind: 'sent'; task: ClaimedTask; attempt: number; searchClosesAt: Date; initialDelay: InitialDelayChoice }
  | { kind: 'invalid'; task: ClaimedTask; attempt: number; reason: string }
  | { kind: 'unsent'; task: ClaimedTask; attempt: number; reason: string };
