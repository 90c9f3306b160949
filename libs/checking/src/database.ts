import type { DataSource, EntityManager } from 'typeorm';
import { DatabaseUnavailableError } from './errors';

/**
 * Runs `work` in one transaction. The app connects to PostgreSQL in the background, so before that (or after it
 * gave up) this fails with {@link DatabaseUnavailableError}, which consumers treat as "retry later".
 */
export function inTransaction<T>(dataSource: DataSource, work: (manager: EntityManager) => Promise<T>): Promise<T> {
  if (!dataSource.isInitialized) return Promise.reject(new DatabaseUnavailableError());
  return dataSource.transaction(work);
}

/** A read outside a transaction, with the same "not connected yet" error. */
export function connected(dataSource: DataSource): EntityManager {
  if (!dataSource.isInitialized) throw new DatabaseUnavailableError();
  return dataSource.manager;
}

/**
 * A copy of `value` without NUL characters in any string (keys included): PostgreSQL text and jsonb cannot hold
 * them, and a stray NUL in a command's output must not make the whole message unstorable.
 */
export function withoutNul<T>(value: T): T {
  if (typeof value === 'string') return value.replaceAll('\u0000', '') as T;
  if (Array.isArray(value)) return value.map((item) => withoutNul(item)) as T;
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [withoutNul(k), withoutNul(v)])) as T;
  }
  return value;
}

export const UUID_PATTERN = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
