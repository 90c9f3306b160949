import { Injectable } from '@nestjs/common';
import { DetectionResponseMessage } from '@purple/contracts';
import type { ResultStatus, TaskStatus, Verdict } from '@purple/persistence';
import { UUID_PATTERN } from '../database';
import { RejectedMessageError } from '../errors';
import { isFinalTaskStatus } from '../verdict/decide-verdict';
import { answerOf } from './answer';
import { LockedTask, ResultStore } from './result-store';

export interface RecordOutcome {
  /** false: this task attempt already had a result (a redelivery), and nothing changed */
  stored: boolean;
  taskId: string;
  executionId: string;
  attempt: number;
  /** what the worker answered */
  resultStatus: ResultStatus;
  taskStatus: TaskStatus;
  verdict: Verdict;
  correlationId: string;
}

/**
 * Stores a worker's answer once per task attempt, closes the task with it, and rolls the execution up to its
 * verdict — in one transaction, so the consumer acks only once all of it is durable.
 */
@Injectable()
export class RecordDetectionResult {
  constructor(private readonly results: ResultStore) {}

  async execute(response: DetectionResponseMessage): Promise<RecordOutcome> {
    const answer = answerOf(response);
    if (!UUID_PATTERN.test(response.task_id)) throw unknownTask(response.task_id);

    return this.results.transaction(async (tx) => {
      const task = await tx.lockTask(response.task_id);
      if (!task) throw unknownTask(response.task_id);
      // a worker that does not say which attempt it answers answers the latest dispatch
      const attempt = response.attempt ?? Math.max(task.attempts, 1);

      const stored = await tx.insertResult({
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
      });

      let taskStatus = task.status;
      if (stored && answerClosesTask(task, attempt)) {
        await tx.closeTask(task.id, answer.taskStatus, answer.taskError);
        taskStatus = answer.taskStatus;
      }
      const verdict = await tx.rollUpVerdict(task.executionId);
      return {
        stored,
        taskId: task.id,
        executionId: task.executionId,
        attempt,
        resultStatus: answer.status,
        taskStatus,
        verdict,
        correlationId: task.correlationId,
      };
    });
  }
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
