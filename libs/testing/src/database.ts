import { randomBytes } from 'node:crypto';
import { dropDatabase, ensureDatabase, runMigrations } from '@purple/persistence';

/** The server tests create their databases on; override with TEST_DATABASE_SERVER_URL. */
export const TEST_DATABASE_SERVER = process.env['TEST_DATABASE_SERVER_URL'] ?? 'postgres://postgres@127.0.0.1:5432';

export interface TestDatabase {
  url: string;
  drop(): Promise<void>;
}

/** A fresh, migrated database of its own for one test file, so runs never see each other's rows. */
export async function createTestDatabase(): Promise<TestDatabase> {
  const url = `${TEST_DATABASE_SERVER}/t_${randomBytes(6).toString('hex')}`;
  await ensureDatabase(url);
  await runMigrations(url);
  return { url, drop: () => dropDatabase(url) };
}
