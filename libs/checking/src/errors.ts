import { isTransientDatabaseError } from '@purple/persistence';

/**
 * A message (or a replayed body) that can never be processed as it is: broken JSON, wrong types, an unknown task.
 * Consumers dead-letter it with `message` as the reason; retrying would only fail the same way.
 */
export class RejectedMessageError extends Error {
  /** `what` names the kind of message: "invalid execution result: timestamp is required; …" */
  constructor(
    readonly reasons: string[],
    what?: string,
  ) {
    super(what ? `${what}: ${reasons.join('; ')}` : reasons.join('; '));
    this.name = 'RejectedMessageError';
  }
}

/** PostgreSQL is not connected (yet, or any more): the message must wait, not be dead-lettered. */
export class DatabaseUnavailableError extends Error {
  constructor(reason = 'database not connected') {
    super(reason);
    this.name = 'DatabaseUnavailableError';
  }
}

/**
 * Whether a failure is temporary (the database is down or the transaction lost a race), so the message should be
 * handed back to the queue after a pause, rather than dead-lettered as poison.
 */
export function isTransientFailure(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (error instanceof RejectedMessageError) return false;
  return isTransientDatabaseError(error);
}

/** No dead letter with that id (the API answers 404). */
export class DeadLetterNotFoundError extends Error {
  constructor(readonly id: string) {
    super(`no dead letter with id ${id}`);
    this.name = 'DeadLetterNotFoundError';
  }
}

/** A replayed body that still cannot be processed (the API answers 422 with the reasons). */
export class ReplayRejectedError extends Error {
  constructor(
    problem: string,
    readonly reasons: string[] = [problem],
  ) {
    super(`replay refused: ${problem}`);
    this.name = 'ReplayRejectedError';
  }
}

/** No detection task with that id (the API answers 404). */
export class TaskNotFoundError extends Error {
  constructor(readonly taskId: string) {
    super(`no detection task with id ${taskId}`);
    this.name = 'TaskNotFoundError';
  }
}

/** A task that has its answer cannot be sent again (the API answers 409). */
export class TaskAlreadyCompletedError extends Error {
  constructor(readonly taskId: string) {
    super(`detection task ${taskId} already completed; nothing to redispatch`);
    this.name = 'TaskAlreadyCompletedError';
  }
}
