import { Injectable, Logger } from '@nestjs/common';
import { parseJson } from '@purple/contracts';
import { CHECKING_QUEUES } from '@purple/topology';
import { randomUUID } from 'node:crypto';
import { RejectedMessageError, ReplayRejectedError, TaskAlreadyCompletedError, TaskNotFoundError } from '../errors';
import { IngestExecution } from '../ingest/ingest-execution.use-case';
import { parseInstruction } from '../ingest/parse-instruction';
import { CORRELATION_ID_HEADER, dedupeKeyOf, headerText } from '../message-identity';
import { parseDetectionResponse } from '../results/answer';
import { RecordDetectionResult } from '../results/record-detection-result.use-case';
import { RedispatchTask } from '../tasks/redispatch-task.use-case';
import { GetDeadLetter } from './get-dead-letter.use-case';
import { DeadLetter, DeadLetterRepository } from './dead-letter.repository';

/** The queues whose dead letters can be replayed, by what replaying means for them. */
export const REPLAYABLE_QUEUES = {
  instructions: [CHECKING_QUEUES.instructions],
  responses: [CHECKING_QUEUES.apiResponses, CHECKING_QUEUES.agentResponses],
  tasks: [CHECKING_QUEUES.apiTasks, CHECKING_QUEUES.agentTasks],
} as const;

export interface ReplayOutcome {
  deadLetterId: string;
  queue: string;
  /** what the replay did, as stored in `replay_outcome` */
  outcome: string;
  replayedAt: Date;
  /** the execution the replay created or found (instructions), or the one the result or task belongs to */
  executionId: string;
}

/** A fixed body: raw bytes or text as they would arrive on the queue, or a JSON value to send as JSON. */
export type ReplayBody = Buffer | string | Record<string, unknown> | unknown[];

/**
 * Processes a dead letter again, with its body as stored or as an operator fixed it, exactly as its consumer
 * would have: an execution result is ingested, a detection response recorded, a task message sends its task to
 * the dispatcher again. All three are idempotent, so replaying twice does no harm. A body that still fails
 * validation is refused with the reasons ({@link ReplayRejectedError}) and the dead letter stays as it was.
 *
 * An execution result (instructions queue) is replayed only as stored: an edited one would be an execution nobody
 * ran, whose commands the agents would then run, bypassing the broker's rule that only `caldera_publisher` sends
 * them. Any other edited body is logged and recorded with who sent it.
 */
@Injectable()
export class ReplayDeadLetter {
  private readonly logger = new Logger('DeadLetters');

  constructor(
    private readonly getDeadLetter: GetDeadLetter,
    private readonly deadLetters: DeadLetterRepository,
    private readonly ingest: IngestExecution,
    private readonly recordResult: RecordDetectionResult,
    private readonly redispatch: RedispatchTask,
  ) {}

  /** `actor`: the client asking, recorded with the replay (and named in the log when it edits the body) */
  async execute(id: string, fixedBody?: ReplayBody, actor: string | null = null): Promise<ReplayOutcome> {
    const deadLetter = await this.getDeadLetter.execute(id);
    const edited = fixedBody !== undefined;
    if (edited && (REPLAYABLE_QUEUES.instructions as readonly string[]).includes(deadLetter.queue)) {
      throw new ReplayRejectedError('an execution result is replayed only as stored: its body cannot be edited');
    }
    const body = edited ? bodyOf(fixedBody) : deadLetter.body;
    if (edited) this.logger.warn(`dead letter ${deadLetter.id} (${deadLetter.queue}) replayed with a body edited by ${actor ?? 'an unnamed caller'}`);
    let done: { outcome: string; executionId: string };
    try {
      done = await this.replay(deadLetter, body);
    } catch (error) {
      if (error instanceof RejectedMessageError) throw new ReplayRejectedError(error.message, error.reasons);
      if (error instanceof TaskNotFoundError || error instanceof TaskAlreadyCompletedError) {
        throw new ReplayRejectedError(error.message);
      }
      throw error;
    }
    const replayedAt = await this.deadLetters.markReplayed(deadLetter.id, done.outcome, actor, edited);
    return { deadLetterId: deadLetter.id, queue: deadLetter.queue, replayedAt, ...done };
  }

  private async replay(deadLetter: DeadLetter, body: Buffer): Promise<{ outcome: string; executionId: string }> {
    const queue = deadLetter.queue;
    if ((REPLAYABLE_QUEUES.instructions as readonly string[]).includes(queue)) {
      const execution = parseInstruction(body);
      const correlationId = deadLetter.correlationId ?? headerText(deadLetter.headers[CORRELATION_ID_HEADER]) ?? randomUUID();
      const stored = await this.ingest.execute(execution, {
        dedupeKey: dedupeKeyOf(execution.linkId, deadLetter.messageId ?? undefined, body),
        correlationId,
      });
      return {
        executionId: stored.executionId,
        outcome: stored.created
          ? `created execution ${stored.executionId} with ${stored.taskIds.length} detection task(s)`
          : `execution ${stored.executionId} already existed; nothing created`,
      };
    }
    if ((REPLAYABLE_QUEUES.responses as readonly string[]).includes(queue)) {
      const recorded = await this.recordResult.execute(parseDetectionResponse(body));
      return {
        executionId: recorded.executionId,
        outcome: recorded.stored
          ? `recorded the result of task ${recorded.taskId} (attempt ${recorded.attempt}); verdict ${recorded.verdict}`
          : `task ${recorded.taskId} already had a result for attempt ${recorded.attempt}; nothing changed`,
      };
    }
    if ((REPLAYABLE_QUEUES.tasks as readonly string[]).includes(queue)) {
      const taskId = taskIdOf(body);
      const reopened = await this.redispatch.execute(taskId);
      return {
        executionId: reopened.executionId,
        outcome: reopened.changed
          ? `task ${taskId} is pending again (was ${reopened.previousStatus}); the dispatcher sends it as a new attempt`
          : `task ${taskId} was already pending`,
      };
    }
    throw new ReplayRejectedError(`messages from queue ${queue} cannot be replayed`);
  }
}

function bodyOf(fixed: ReplayBody): Buffer {
  if (Buffer.isBuffer(fixed)) return fixed;
  return Buffer.from(typeof fixed === 'string' ? fixed : JSON.stringify(fixed), 'utf8');
}

/** A task message is only a pointer: the dispatcher rebuilds the task from its row, so only its id matters. */
function taskIdOf(body: Buffer): string {
  const parsed = parseJson(body);
  if (!parsed.ok) throw new RejectedMessageError(parsed.errors, 'invalid detection task');
  const taskId = (parsed.value as { task_id?: unknown } | null)?.task_id;
  if (typeof taskId !== 'string' || taskId === '') throw new RejectedMessageError(['task_id is required'], 'invalid detection task');
  return taskId;
}
