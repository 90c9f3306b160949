import { Inject, Injectable, Optional } from '@nestjs/common';
import { DetectionResponseMessage, ExecutionVerdict, ResponseStatus, TaskStatus } from '@purple/contracts';
import { UUID_PATTERN } from '../database';
import { RejectedMessageError } from '../errors';
import { isFinalTaskStatus } from '../verdict/decide-verdict';
import { isLateDetection, ingestionDelayMs, recheckDelaySeconds } from '../purple/late-detection';
import { gradeMatch } from '../purple/match-quality';
import { observeSourceDetection } from '../purple/source-metrics';
import { answerOf } from './answer';
import { LockedTask, ResultRepository } from './result.repository';
import { TaskProcessing, observeTaskProcessing } from './task-processing-metric';

export interface RecordOutcome {
  /** false: this task attempt already had a result (a redelivery), and nothing changed */
  stored: boolean;
  taskId: string;
  executionId: string;
  attempt: number;
  /** what the worker answered */
  resultStatus: ResponseStatus;
  taskStatus: TaskStatus;
  verdict: ExecutionVerdict;
  correlationId: string;
}

/**
 * Stores a worker's answer once per task attempt, closes the task with it, and rolls the execution up to its
 * verdict — in one transaction, so the consumer acks only once all of it is durable. Once committed, the time from
 * dispatch to the stored result goes into `purple_task_processing_seconds`.
 */
/** Seconds after a `not_detected` answer before its one re-check, for tasks that do not say (0: off). */
export const RECHECK_AFTER_SECONDS = Symbol('RECHECK_AFTER_SECONDS');

@Injectable()
export class RecordDetectionResult {
  constructor(
    private readonly results: ResultRepository,
    @Optional() @Inject(RECHECK_AFTER_SECONDS) private readonly recheckAfterSeconds = 0,
  ) {}

  async execute(response: DetectionResponseMessage): Promise<RecordOutcome> {
    const answer = answerOf(response);
    if (!UUID_PATTERN.test(response.task_id)) throw unknownTask(response.task_id);

    const { outcome, processing, source } = await this.results.transaction(async (tx) => {
      const task = await tx.lockTask(response.task_id);
      if (!task) throw unknownTask(response.task_id);
      // a worker that does not say which attempt it answers answers the latest dispatch
      const attempt = response.attempt ?? Math.max(task.attempts, 1);
      const execution = await tx.lockExecution(task.executionId);
      const verdictBefore = execution.verdict;
      const match = response.match && { markerFound: response.match.marker_found, hostScoped: response.match.host_scoped };
      const actions = (response.evidence ?? []).map((item) => item.action);

      const ingestion = ingestionDelayMs(answer.status, answer.matchedEventAt, answer.resultAt, execution.executedAt);
      const storedAt = await tx.insertResult({
        taskId: task.id,
        attempt,
        detectionId: response.detection_id,
        status: answer.status,
        detected: answer.detected,
        confidence: response.confidence,
        eventsFound: response.results.events_found,
        evidence: plain(response.evidence ?? []),
        error: response.error ?? null,
        matchedEventAt: answer.matchedEventAt,
        resultAt: answer.resultAt,
        workerId: response.metadata.worker_id,
        response: plain(response),
        matchQuality: gradeMatch(answer.detected, match),
        action: actions.includes('blocked') ? 'blocked' : actions.includes('alerted') ? 'alerted' : null,
        late: isLateDetection(answer.status, verdictBefore),
        ingestionDelayMs: ingestion,
      });
      const stored = storedAt !== null;

      let taskStatus = task.status;
      if (stored && answerClosesTask(task, attempt)) {
        await tx.closeTask(task.id, answer.taskStatus, answer.taskError);
        taskStatus = answer.taskStatus;
        const recheckIn = recheckDelaySeconds(answer.status, task, this.recheckAfterSeconds);
        if (recheckIn !== null) await tx.scheduleRecheck(task.id, recheckIn);
      }
      const verdict = await tx.rollUpVerdict(task.executionId);
      return {
        outcome: {
          stored,
          taskId: task.id,
          executionId: task.executionId,
          attempt,
          resultStatus: answer.status,
          taskStatus,
          verdict,
          correlationId: task.correlationId,
        },
        processing: storedAt === null ? null : processingOf(task, attempt, storedAt),
        source:
          storedAt === null || !answer.detected
            ? null
            : {
                source: task.connector,
                techniqueId: execution.techniqueId,
                latencyMs: Math.max(0, (answer.matchedEventAt ?? answer.resultAt).getTime() - execution.executedAt.getTime()),
                ingestionDelayMs: ingestion,
              },
      };
    });
    // observed only after the commit: a rolled-back transaction (then redelivered) is not counted twice
    if (processing) observeTaskProcessing(processing);
    if (source) observeSourceDetection(source);
    return outcome;
  }
}

/**
 * Dispatch → stored result for a newly stored answer, when `dispatched_at` is this attempt's: the dispatcher
 * overwrites it on every attempt, so a late answer to an older attempt (or to a task never dispatched) has no
 * dispatch time to measure from.
 */
export function processingOf(task: LockedTask, attempt: number, storedAt: Date): TaskProcessing | null {
  if (task.dispatchedAt === null || task.attempts !== attempt) return null;
  return {
    detectionType: task.detectionType,
    platform: task.platform,
    seconds: Math.max(0, (storedAt.getTime() - task.dispatchedAt.getTime()) / 1000),
  };
}

/**
 * The latest attempt has the last word: an answer to an older attempt arriving after a newer attempt closed the
 * task is kept as a result, but does not reopen or overwrite the task.
 */
export function answerClosesTask(task: Pick<LockedTask, 'status' | 'attempts'>, attempt: number): boolean {
  return !(isFinalTaskStatus(task.status) && task.attempts > attempt);
}

const unknownTask = (taskId: string) =>
  new RejectedMessageError([`unknown task_id "${taskId}": no such detection task`], 'invalid detection response');

/** The message as plain JSON (the validated instance carries class prototypes). */
const plain = <T>(value: T) => JSON.parse(JSON.stringify(value));
