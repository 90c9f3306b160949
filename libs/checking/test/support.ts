import { dropDatabase, ensureDatabase, runMigrations } from '@purple/persistence';
import { randomBytes } from 'node:crypto';

/**
 * A fresh, migrated database of this library's own for one test file. (Apps use createTestDatabase from
 * @purple/testing; this library cannot, as @purple/testing's end-to-end test uses this library's fixtures.)
 */
export async function createTestDatabase(): Promise<{ url: string; drop(): Promise<void> }> {
  const server = process.env['TEST_DATABASE_SERVER_URL'] ?? 'postgres://postgres@127.0.0.1:5432';
  const url = `${server}/t_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(url);
  await runMigrations(url);
  return { url, drop: () => dropDatabase(url) };
}
