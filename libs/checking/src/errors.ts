import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

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

/** SQLSTATE classes that mean "try again later": connection, resources, operator intervention, system. */
const TRANSIENT_SQLSTATE_CLASSES = ['08', '53', '57', '58'];
/** serialization failure, deadlock: the transaction lost a race and may simply be run again */
const TRANSIENT_SQLSTATES = ['40001', '40P01'];
const TRANSIENT_NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN'];
/** node-postgres reports a lost or refused connection with these messages and no code */
const TRANSIENT_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is not established/i;

/**
 * Whether a failure is temporary (the database is down or the transaction lost a race), so the message should be
 * handed back to the queue after a pause, rather than dead-lettered as poison.
 */
export function isTransientFailure(error: unknown): boolean {
  if (error instanceof DatabaseUnavailableError) return true;
  if (error instanceof RejectedMessageError || !(error instanceof Error)) return false;
  // TypeORM releases a query runner whose connection died under it (PostgreSQL stopped mid-transaction): the next
  // query on it fails with these, which the database outage caused as much as a refused connection
  if (error instanceof QueryRunnerAlreadyReleasedError || error instanceof QueryRunnerProviderAlreadyReleasedError) return true;
  const driverError = (error as Error & { driverError?: unknown }).driverError;
  const code = String((driverError as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code ?? '');
  if (TRANSIENT_SQLSTATES.includes(code) || TRANSIENT_NETWORK_CODES.includes(code)) return true;
  if (/^[0-9A-Z]{5}$/.test(code) && TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
  return TRANSIENT_MESSAGES.test(error.message);
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
