import { randomBytes } from 'node:crypto';
import {
  DATABASE_APPS,
  DatabaseApp,
  MIGRATE_DATABASE_URL,
  applyGrants,
  databaseProvisioningFromEnv,
  databaseRoleOf,
  databaseUrlEnvOf,
  dropDatabase,
  dropDatabaseRoles,
  ensureDatabase,
  ownerRoleOf,
  provisionDatabase,
  runMigrations,
  withCredentials,
} from '@purple/persistence';

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

/** Every app's `<APP>_DATABASE_URL` set to one URL (a test that runs apps as the server's superuser). */
export function databaseEnv(url: string): Record<string, string> {
  return Object.fromEntries(DATABASE_APPS.map((app) => [databaseUrlEnvOf(app), url]));
}

/** A database provisioned as production's is: an owner role, one role per app, migrations, then the grants. */
export interface RoledTestDatabase extends TestDatabase {
  /** prefixes this run's roles (`<namespace>_purple_api`): roles are global to the server */
  readonly namespace: string;
  /** as the owner (migrations) */
  readonly ownerUrl: string;
  /** as the app's own role */
  appUrl(app: DatabaseApp): string;
  /** every `<APP>_DATABASE_URL`, each with its own role (not the owner's: no app holds it) */
  env(): Record<string, string>;
}

/**
 * Provisions like `npm run provision` + `npm run migrate` on `server` (an administrator's URL without a database):
 * namespaced roles with random passwords, the database owned by the owner role, the migrations run as it, grants.
 * `drop()` removes the database and the roles.
 */
export async function createRoledTestDatabase(server = TEST_DATABASE_SERVER): Promise<RoledTestDatabase> {
  const namespace = `d${randomBytes(5).toString('hex')}`;
  const base = `${server}/t_${randomBytes(6).toString('hex')}`;
  const password = () => randomBytes(12).toString('hex');
  const env: Record<string, string> = { [MIGRATE_DATABASE_URL]: withCredentials(base, ownerRoleOf({ namespace }), password()) };
  for (const app of DATABASE_APPS) env[databaseUrlEnvOf(app)] = withCredentials(base, databaseRoleOf(app, { namespace }), password());
  const adminUrl = `${server}/postgres`;
  const drop = async () => {
    await dropDatabase(base);
    await dropDatabaseRoles(adminUrl, { namespace });
  };
  try {
    await provisionDatabase(adminUrl, databaseProvisioningFromEnv(env, { namespace }));
    await runMigrations(env[MIGRATE_DATABASE_URL]);
    await applyGrants(env[MIGRATE_DATABASE_URL], { namespace });
  } catch (error) {
    await drop().catch(() => undefined);
    throw error;
  }
  return {
    url: base,
    namespace,
    ownerUrl: env[MIGRATE_DATABASE_URL],
    appUrl: (app) => env[databaseUrlEnvOf(app)],
    env: () => Object.fromEntries(DATABASE_APPS.map((app) => [databaseUrlEnvOf(app), env[databaseUrlEnvOf(app)]])),
    drop,
  };
}
