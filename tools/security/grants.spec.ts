import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { TEST_DATABASE_SERVER, createTestDatabase, TestDatabase } from '@purple/testing';
import { ConfigError } from '@purple/platform';
import { DATABASE_APPS, TABLE_GRANTS, databaseRoleOf, databaseUrlFrom, databaseUrlEnvOf, grantsOf, missingGrantsMessage, ownerRoleOf, scramVerifier } from '@purple/persistence';

/**
 * Every table the migrations create must declare who may use it (issue 12 #12). A migration that adds a table fails
 * here until TABLE_GRANTS (libs/persistence/src/grants.ts) has its entry; the message says what to add.
 */
describe('TABLE_GRANTS covers the migrated schema', () => {
  let db: TestDatabase;
  let tables: string[];

  beforeAll(async () => {
    db = await createTestDatabase();
    const client = new Client({ connectionString: db.url });
    await client.connect();
    try {
      const { rows } = await client.query(
        `SELECT c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
          WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p', 'v', 'm', 'f') ORDER BY 1`,
      );
      tables = (rows as Array<{ relname: string }>).map((r) => r.relname);
    } finally {
      await client.end();
    }
  }, 120_000);

  afterAll(() => db?.drop(), 60_000);

  it('has an entry for every table of the migrated schema', () => {
    const missing = tables.filter((t) => !(t in TABLE_GRANTS));
    if (missing.length > 0) throw new Error(missingGrantsMessage(missing));
    expect(tables.length).toBeGreaterThanOrEqual(11);
  });

  it('names no table the migrations do not create', () => {
    expect(Object.keys(TABLE_GRANTS).filter((t) => !tables.includes(t))).toEqual([]);
  });

  it('says exactly what to add for a table without an entry', () => {
    expect(missingGrantsMessage(['purple_team_plan'])).toBe(
      "table(s) purple_team_plan have no entry in TABLE_GRANTS (libs/persistence/src/grants.ts). Add one per table, naming each app that uses it and what it does, e.g. purple_team_plan: { api: ['SELECT', 'INSERT'] } — or purple_team_plan: {} if only migrations touch it. Apps: api, bus-router, caldera-consumer, dispatcher, result-consumer, caldera-bridge.",
    );
  });
});

describe('database roles and their names', () => {
  it('gives each app one role and one URL variable, and the workers none', () => {
    expect(DATABASE_APPS.map((app) => [databaseRoleOf(app), databaseUrlEnvOf(app)])).toEqual([
      ['purple_api', 'API_DATABASE_URL'],
      ['purple_bus_router', 'BUS_ROUTER_DATABASE_URL'],
      ['purple_caldera_consumer', 'CALDERA_CONSUMER_DATABASE_URL'],
      ['purple_dispatcher', 'DISPATCHER_DATABASE_URL'],
      ['purple_result_consumer', 'RESULT_CONSUMER_DATABASE_URL'],
      ['purple_caldera_bridge', 'CALDERA_BRIDGE_DATABASE_URL'],
    ]);
    expect(ownerRoleOf({ namespace: 'd1' })).toBe('d1_purple_owner');
    expect(DATABASE_APPS).not.toContain('api-worker');
    expect(grantsOf('caldera-bridge')).toEqual({ caldera_bridge_sent_link: ['SELECT', 'INSERT'] });
  });

  it('checks an app\'s URL at start, naming its variable', () => {
    const problems = (env: NodeJS.ProcessEnv) => {
      try {
        databaseUrlFrom('dispatcher', env);
        return 'no error';
      } catch (error) {
        return (error as ConfigError).problems.join('; ');
      }
    };
    expect(problems({})).toBe('DISPATCHER_DATABASE_URL is missing');
    expect(problems({ DISPATCHER_DATABASE_URL: 'mysql://x@h/db' })).toBe('DISPATCHER_DATABASE_URL is malformed (must be a postgres:// URL)');
    expect(problems({ DISPATCHER_DATABASE_URL: 'postgres://h:5432/purple' })).toMatch(/^DISPATCHER_DATABASE_URL is malformed \(must name the role/);
    expect(problems({ DISPATCHER_DATABASE_URL: 'postgres://purple_dispatcher:pw@h:5432/purple', DATABASE_URL: 'postgres://postgres@h/purple' })).toBe('no error');
  });

  it('sends PostgreSQL a SCRAM-SHA-256 verifier, never the password: the one PostgreSQL computes itself', async () => {
    const client = new Client({ connectionString: `${TEST_DATABASE_SERVER}/postgres` });
    await client.connect();
    const role = `scram_probe_${randomBytes(4).toString('hex')}`;
    try {
      await client.query(`SET password_encryption = 'scram-sha-256'`);
      await client.query(`CREATE ROLE ${role} PASSWORD 'pencil-0123'`);
      const { rows } = await client.query(`SELECT rolpassword FROM pg_authid WHERE rolname = $1`, [role]);
      const stored = (rows as Array<{ rolpassword: string }>)[0].rolpassword;
      const [, iterations, salt] = /^SCRAM-SHA-256\$(\d+):([^$]+)\$/.exec(stored)!;
      expect(scramVerifier('pencil-0123', Buffer.from(salt, 'base64'), Number(iterations))).toBe(stored);
      expect(scramVerifier('pencil-0123')).not.toContain('pencil');
    } finally {
      await client.query(`DROP ROLE IF EXISTS ${role}`);
      await client.end();
    }
  });
});
