import { QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';

/** SQLSTATE classes that mean "try again later": connection, resources, operator intervention, system. */
const TRANSIENT_SQLSTATE_CLASSES = ['08', '53', '57', '58'];
/** serialization failure, deadlock: the transaction lost a race and may simply be run again */
const TRANSIENT_SQLSTATES = ['40001', '40P01'];
const TRANSIENT_NETWORK_CODES = ['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'];
/** node-postgres reports a lost or refused connection with these messages and no code */
const TRANSIENT_MESSAGES = /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error|Connection is not established|Cannot use a pool after calling end/i;

/**
 * Whether a database failure is temporary: PostgreSQL is down, restarting or out of resources, or the transaction
 * lost a race. A consumer hands its message back after a pause; the api answers 503 with Retry-After. Never a
 * reason to dead-letter a message or to answer 500.
 */
export function isTransientDatabaseError(error: unknown): boolean {
  if (!(error instanceof Error)) return false;
  // TypeORM releases a query runner whose connection died under it (PostgreSQL stopped mid-transaction): the next
  // query on it fails with these, which the outage caused as much as a refused connection
  if (error instanceof QueryRunnerAlreadyReleasedError || error instanceof QueryRunnerProviderAlreadyReleasedError) return true;
  const driverError = (error as Error & { driverError?: unknown }).driverError;
  const code = String((driverError as { code?: unknown } | undefined)?.code ?? (error as { code?: unknown }).code ?? '');
  if (TRANSIENT_SQLSTATES.includes(code) || TRANSIENT_NETWORK_CODES.includes(code)) return true;
  if (/^[0-9A-Z]{5}$/.test(code) && TRANSIENT_SQLSTATE_CLASSES.includes(code.slice(0, 2))) return true;
  return TRANSIENT_MESSAGES.test(error.message);
}
