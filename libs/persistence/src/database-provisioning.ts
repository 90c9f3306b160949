import { createHash, createHmac, pbkdf2Sync, randomBytes } from 'node:crypto';
import { Client, ClientBase } from 'pg';
import { ConfigError } from '@purple/platform';
import {
  DATABASE_APPS,
  DatabaseApp,
  DatabaseRoleOptions,
  MIGRATE_DATABASE_URL,
  checkedDatabaseUrl,
  credentialsOf,
  databaseRoleOf,
  databaseUrlEnvOf,
  ownerRoleOf,
} from './database-roles';
import { TABLE_GRANTS, missingGrantsMessage } from './grants';

/** What `npm run provision` creates in PostgreSQL: the owner role, one role per app, and the database. */
export interface DatabaseProvisioning {
  /** the database every URL names */
  database: string;
  owner: { role: string; password: string };
  apps: Array<{ app: DatabaseApp; role: string; password: string }>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;
const quoted = (name: string): string => {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a plain lowercase identifier`);
  return `"${name}"`;
};

/**
 * Reads the roles and passwords from the URLs the migrations and the apps connect with (`MIGRATE_DATABASE_URL`,
 * `API_DATABASE_URL`, …), so each password is written once. Each URL must connect as the role provisioning creates
 * for it and name the same database.
 * @throws ConfigError naming every variable that is missing or wrong
 */
export function databaseProvisioningFromEnv(env: NodeJS.ProcessEnv, options: DatabaseRoleOptions = {}): DatabaseProvisioning {
  const problems: string[] = [];
  const read = (variable: string, role: string): { role: string; password: string; database: string } | undefined => {
    let url: string;
    try {
      url = checkedDatabaseUrl(variable, env);
    } catch (error) {
      problems.push(...(error as ConfigError).problems);
      return undefined;
    }
    const { user, password, database } = credentialsOf(url);
    if (user !== role) problems.push(`${variable} connects as ${user}; it must connect as ${role}, the role provisioning creates for it`);
    else if (!/^[\x21-\x7e]+$/.test(password)) problems.push(`${variable} needs a password of printable ASCII characters (hex is safest)`);
    return { role, password, database };
  };
  const owner = read(MIGRATE_DATABASE_URL, ownerRoleOf(options));
  const apps = DATABASE_APPS.map((app) => ({ app, ...read(databaseUrlEnvOf(app), databaseRoleOf(app, options)) }));
  const database = owner?.database;
  for (const app of apps) {
    if (database && app.database && app.database !== database) {
      problems.push(`${databaseUrlEnvOf(app.app)} names database ${app.database}, but ${MIGRATE_DATABASE_URL} names ${database}`);
    }
  }
  if (problems.length > 0 || !owner || !database) throw new ConfigError(problems);
  quoted(database.toLowerCase()); // a plain identifier, checked before anything is created
  return {
    database,
    owner: { role: owner.role, password: owner.password },
    apps: apps.map((a) => ({ app: a.app, role: a.role!, password: a.password! })),
  };
}

/**
 * A SCRAM-SHA-256 verifier of the password, as PostgreSQL stores it: the server (and its statement log) never sees
 * the password itself. Passwords are printable ASCII, which SASLprep leaves as they are.
 */
export function scramVerifier(password: string, salt = randomBytes(16), iterations = 4096): string {
  const salted = pbkdf2Sync(password, salt, iterations, 32, 'sha256');
  const clientKey = createHmac('sha256', salted).update('Client Key').digest();
  const storedKey = createHash('sha256').update(clientKey).digest();
  const serverKey = createHmac('sha256', salted).update('Server Key').digest();
  return `SCRAM-SHA-256$${iterations}:${salt.toString('base64')}$${storedKey.toString('base64')}:${serverKey.toString('base64')}`;
}

/**
 * Creates (or updates) the roles and the database, idempotently, as an administrator (`PROVISION_DATABASE_URL`: a
 * superuser, or a role with CREATEROLE and CREATEDB). The owner role owns the database and its `public` schema;
 * only the app roles may connect besides it. Tables an earlier version created as another role (the administrator)
 * are handed to the owner, so migrations and grants keep working on an existing database.
 *
 * Table privileges are not granted here but by `npm run migrate` after the migrations (applyGrants): the tables must
 * exist first, their owner may grant on them without an administrator, and every migration is followed by them.
 */
export async function provisionDatabase(adminUrl: string, target: DatabaseProvisioning, log: (line: string) => void = () => undefined): Promise<void> {
  const db = quoted(target.database);
  const owner = quoted(target.owner.role);
  const appRoles = target.apps.map((a) => quoted(a.role));
  const admin = new Client({ connectionString: adminUrl, connectionTimeoutMillis: 10_000 });
  await admin.connect();
  try {
    const [{ superuser }] = (await admin.query(`SELECT rolsuper AS superuser FROM pg_roles WHERE rolname = current_user`)).rows as Array<{ superuser: boolean }>;
    for (const { role, password } of [target.owner, ...target.apps]) {
      const existing = (await admin.query(
        `SELECT rolsuper OR rolcreatedb OR rolcreaterole OR rolreplication OR rolbypassrls AS powerful FROM pg_roles WHERE rolname = $1`,
        [role],
      )).rows as Array<{ powerful: boolean }>;
      const verifier = admin.escapeLiteral(scramVerifier(password));
      if (existing.length === 0) {
        // the defaults: NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS
        await admin.query(`CREATE ROLE ${quoted(role)} LOGIN PASSWORD ${verifier}`);
        log(`PostgreSQL: created role ${role}`);
      } else {
        if (existing[0].powerful) {
          await admin.query(`ALTER ROLE ${quoted(role)} NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS`);
          log(`PostgreSQL: role ${role} had administrative attributes: removed`);
        }
        await admin.query(`ALTER ROLE ${quoted(role)} LOGIN PASSWORD ${verifier}`);
      }
    }
    // a CREATEROLE administrator that is not a superuser may hand objects to the owner only as a member of it
    if (!superuser) await admin.query(`GRANT ${owner} TO CURRENT_USER`).catch(() => undefined);

    const found = (await admin.query(`SELECT pg_get_userbyid(datdba) AS owner FROM pg_database WHERE datname = $1`, [target.database])).rows as Array<{ owner: string }>;
    if (found.length === 0) {
      await admin.query(`CREATE DATABASE ${db} OWNER ${owner}`);
      log(`PostgreSQL: created database ${target.database} owned by ${target.owner.role}`);
    } else if (found[0].owner !== target.owner.role) {
      await admin.query(`ALTER DATABASE ${db} OWNER TO ${owner}`);
      log(`PostgreSQL: database ${target.database} now owned by ${target.owner.role} (was ${found[0].owner})`);
    }
    // only the apps (and the owner) connect; no temporary tables for anyone
    await admin.query(`REVOKE ALL ON DATABASE ${db} FROM PUBLIC${appRoles.map((r) => `, ${r}`).join('')}`);
    await admin.query(`GRANT CONNECT ON DATABASE ${db} TO ${appRoles.join(', ')}`);
  } finally {
    await admin.end();
  }

  const inDatabase = new URL(adminUrl);
  inDatabase.pathname = `/${target.database}`;
  const client = new Client({ connectionString: inDatabase.toString(), connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    await adoptSchema(client, target.owner.role, log);
  } finally {
    await client.end();
  }
  log(`PostgreSQL: roles ${[target.owner, ...target.apps].map((r) => r.role).join(', ')} ready on database ${target.database} (passwords set)`);
}

/** Hands the `public` schema, and whatever another role created in it, to the owner. */
async function adoptSchema(client: ClientBase, ownerRole: string, log: (line: string) => void): Promise<void> {
  const owner = quoted(ownerRole);
  const [schema] = (await client.query(`SELECT pg_get_userbyid(nspowner) AS owner FROM pg_namespace WHERE nspname = 'public'`)).rows as Array<{ owner: string }>;
  if (schema && schema.owner !== ownerRole && schema.owner !== 'pg_database_owner') {
    await client.query(`ALTER SCHEMA public OWNER TO ${owner}`);
    log(`PostgreSQL: schema public now owned by ${ownerRole} (was ${schema.owner})`);
  }
  // sequences owned by a table move with it; extension members stay with their extension
  const objects = (await client.query(
    `SELECT c.relname::text AS name, c.relkind::text AS kind, pg_get_userbyid(c.relowner) AS owner
       FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
      WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f', 'S') AND c.relowner <> $1::regrole
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = c.oid AND d.deptype IN ('a', 'i', 'e') AND d.classid = 'pg_class'::regclass
                        AND (d.deptype = 'e' OR c.relkind = 'S'))
     UNION ALL
     SELECT p.oid::regprocedure::text, 'function'::text, pg_get_userbyid(p.proowner)
       FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
      WHERE n.nspname = 'public' AND p.proowner <> $1::regrole
        AND NOT EXISTS (SELECT 1 FROM pg_depend d WHERE d.objid = p.oid AND d.deptype = 'e')`,
    [ownerRole],
  )).rows as Array<{ name: string; kind: string; owner: string }>;
  const keyword: Record<string, string> = { r: 'TABLE', p: 'TABLE', f: 'FOREIGN TABLE', v: 'VIEW', m: 'MATERIALIZED VIEW', S: 'SEQUENCE', function: 'FUNCTION' };
  for (const o of objects) {
    const name = o.kind === 'function' ? o.name : `public.${quoted(o.name)}`;
    await client.query(`ALTER ${keyword[o.kind]} ${name} OWNER TO ${owner}`);
  }
  if (objects.length > 0) log(`PostgreSQL: ${objects.length} object(s) in schema public now owned by ${ownerRole} (${objects.map((o) => o.name).join(', ')})`);
}

/**
 * Makes the apps' privileges exactly TABLE_GRANTS, in one transaction, as the owner of the tables (run by
 * `npm run migrate` after the migrations): every app role loses all it had on every table and sequence of `public`,
 * then gets what the map lists, so a privilege removed from the map is revoked too. PUBLIC keeps nothing.
 * Not inside the migrations: a migration is history and cannot be changed, while this is the current truth as data;
 * role names differ per test run; and the test databases migrated without roles must not need them.
 * @throws before changing anything when a table has no entry in TABLE_GRANTS or a role is missing
 * @returns one line per role: what it may do
 */
export async function applyGrants(ownerUrl: string, options: DatabaseRoleOptions = {}): Promise<string[]> {
  const client = new Client({ connectionString: ownerUrl, connectionTimeoutMillis: 10_000 });
  await client.connect();
  try {
    const roles = new Map(DATABASE_APPS.map((app) => [app, databaseRoleOf(app, options)]));
    const all = [...roles.values()].map(quoted).join(', ');
    const present = new Set(
      ((await client.query(`SELECT rolname FROM pg_roles WHERE rolname = ANY($1)`, [[...roles.values()]])).rows as Array<{ rolname: string }>).map((r) => r.rolname),
    );
    const absent = [...roles.values()].filter((r) => !present.has(r));
    if (absent.length > 0) throw new Error(`role(s) ${absent.join(', ')} do not exist: run npm run provision first`);

    const tables = ((await client.query(
      `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1`,
    )).rows as Array<{ relname: string }>).map((r) => r.relname);
    const unknown = tables.filter((t) => !(t in TABLE_GRANTS));
    if (unknown.length > 0) throw new Error(missingGrantsMessage(unknown));
    const sequences = (await client.query(
      `SELECT s.relname AS sequence, t.relname AS table
         FROM pg_class s JOIN pg_namespace n ON n.oid = s.relnamespace
         LEFT JOIN pg_depend d ON d.objid = s.oid AND d.classid = 'pg_class'::regclass AND d.refclassid = 'pg_class'::regclass AND d.deptype IN ('a', 'i')
         LEFT JOIN pg_class t ON t.oid = d.refobjid
        WHERE n.nspname = 'public' AND s.relkind = 'S'`,
    )).rows as Array<{ sequence: string; table: string | null }>;

    await client.query('BEGIN');
    try {
      await client.query(`REVOKE ALL ON SCHEMA public FROM PUBLIC`);
      await client.query(`GRANT USAGE ON SCHEMA public TO ${all}`);
      for (const table of tables) {
        await client.query(`REVOKE ALL ON TABLE public.${quoted(table)} FROM PUBLIC, ${all}`);
        for (const [app, privileges] of Object.entries(TABLE_GRANTS[table])) {
          if (privileges && privileges.length > 0) {
            await client.query(`GRANT ${privileges.join(', ')} ON TABLE public.${quoted(table)} TO ${quoted(roles.get(app as DatabaseApp)!)}`);
          }
        }
      }
      for (const { sequence, table } of sequences) {
        await client.query(`REVOKE ALL ON SEQUENCE public.${quoted(sequence)} FROM PUBLIC, ${all}`);
        const inserters = Object.entries((table && TABLE_GRANTS[table]) || {})
          .filter(([, privileges]) => privileges?.includes('INSERT'))
          .map(([app]) => quoted(roles.get(app as DatabaseApp)!));
        if (inserters.length > 0) await client.query(`GRANT USAGE ON SEQUENCE public.${quoted(sequence)} TO ${inserters.join(', ')}`);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client.query('ROLLBACK').catch(() => undefined);
      throw error;
    }
    return DATABASE_APPS.map((app) => {
      const granted = tables
        .map((t) => [t, TABLE_GRANTS[t][app]] as const)
        .filter(([, p]) => p && p.length > 0)
        .map(([t, p]) => `${t} ${p!.join('/')}`);
      return `${roles.get(app)}: ${granted.length ? granted.join(', ') : 'nothing'}`;
    });
  } finally {
    await client.end();
  }
}

/** Drops a test run's roles (after its database): tests only. */
export async function dropDatabaseRoles(adminUrl: string, options: DatabaseRoleOptions): Promise<void> {
  if (!options.namespace) throw new Error('dropDatabaseRoles drops only a test namespace’s roles');
  const client = new Client({ connectionString: adminUrl });
  await client.connect();
  try {
    for (const role of [...DATABASE_APPS.map((app) => databaseRoleOf(app, options)), ownerRoleOf(options)]) {
      await client.query(`DROP ROLE IF EXISTS ${quoted(role)}`);
    }
  } finally {
    await client.end();
  }
}
