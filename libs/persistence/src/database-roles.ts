import { ConfigError } from '@purple/platform';

/**
 * The apps that use PostgreSQL, each as a role of its own. The detection workers are not here: they never touch
 * the database, so they get no role and no URL at all.
 */
export const DATABASE_APPS = ['api', 'bus-router', 'caldera-consumer', 'dispatcher', 'result-consumer', 'caldera-bridge'] as const;
export type DatabaseApp = (typeof DATABASE_APPS)[number];

export const isDatabaseApp = (app: string): app is DatabaseApp => (DATABASE_APPS as readonly string[]).includes(app);

/**
 * One naming scheme: `<WHO>_DATABASE_URL` is the URL `<WHO>` connects with.
 * - `API_DATABASE_URL`, `BUS_ROUTER_DATABASE_URL`, … : each app, as its own role (`purple_api`, …);
 * - `MIGRATE_DATABASE_URL`: `npm run migrate`, as the owner of the schema and its tables (`purple_owner`);
 * - `PROVISION_DATABASE_URL`: `npm run provision`, as an administrator that may create roles and databases.
 */
export const databaseUrlEnvOf = (app: DatabaseApp): string => `${app.toUpperCase().replace(/-/g, '_')}_DATABASE_URL`;
export const MIGRATE_DATABASE_URL = 'MIGRATE_DATABASE_URL';
export const PROVISION_DATABASE_URL = 'PROVISION_DATABASE_URL';

/** Tests only: PostgreSQL roles are global to the server, so a test run prefixes its own (`<ns>_purple_api`). */
export interface DatabaseRoleOptions {
  namespace?: string;
}

const prefixed = (name: string, options: DatabaseRoleOptions) => (options.namespace ? `${options.namespace}_${name}` : name);

/** `api` → `purple_api` */
export const databaseRoleOf = (app: DatabaseApp, options: DatabaseRoleOptions = {}): string =>
  prefixed(`purple_${app.replace(/-/g, '_')}`, options);

/** Owns the database's schema and tables; migrations run as it, and it grants the apps their privileges. */
export const ownerRoleOf = (options: DatabaseRoleOptions = {}): string => prefixed('purple_owner', options);

/**
 * The app's database URL from its variable, checked at start: a ConfigError naming the variable when it is missing
 * or not a postgres:// URL with a user.
 */
export function databaseUrlFrom(app: DatabaseApp, env: NodeJS.ProcessEnv): string {
  return checkedDatabaseUrl(databaseUrlEnvOf(app), env);
}

export function checkedDatabaseUrl(variable: string, env: NodeJS.ProcessEnv): string {
  const value = env[variable];
  if (value === undefined || value === '') throw new ConfigError([`${variable} is missing`]);
  const problem = databaseUrlProblem(value);
  if (problem) throw new ConfigError([`${variable} is malformed (${problem})`]);
  return value;
}

function databaseUrlProblem(value: string): string | null {
  if (!/^postgres(ql)?:\/\//.test(value)) return 'must be a postgres:// URL';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return 'must be a postgres:// URL';
  }
  if (!url.username) return 'must name the role to connect as: postgres://<role>:<password>@<host>/<database>';
  if (url.pathname.length <= 1) return 'must name the database: postgres://<role>:<password>@<host>/<database>';
  return null;
}

/** The role and password a URL connects with, and the database it names. */
export function credentialsOf(url: string): { user: string; password: string; database: string } {
  const parsed = new URL(url);
  return {
    user: decodeURIComponent(parsed.username),
    password: decodeURIComponent(parsed.password),
    database: decodeURIComponent(parsed.pathname.slice(1)),
  };
}

/** `url` with its role and password replaced (tests give each app its role on one server). */
export function withCredentials(url: string, user: string, password: string): string {
  const parsed = new URL(url);
  parsed.username = encodeURIComponent(user);
  parsed.password = encodeURIComponent(password);
  return parsed.toString();
}
