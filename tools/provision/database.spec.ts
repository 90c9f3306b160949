import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Client } from 'pg';
import {
  DATABASE_APPS,
  MIGRATE_DATABASE_URL,
  PROVISION_DATABASE_URL,
  databaseRoleOf,
  databaseUrlEnvOf,
  dropDatabase,
  dropDatabaseRoles,
  ensureDatabase,
  ownerRoleOf,
  runMigrations,
  withCredentials,
} from '@purple/persistence';
import { TEST_DATABASE_SERVER } from '@purple/testing';
import { runProvisionCli } from './provision';

/**
 * `npm start`'s database steps as processes see them (issue 12 #12): `npm run provision` creates the roles and hands
 * an existing database (migrated as the administrator by an earlier version) to purple_owner, then `npm run migrate`
 * runs as purple_owner and grants each app its tables.
 */
const REPO = resolve(__dirname, '..', '..');

describe('provisioning PostgreSQL, then migrating as the owner', () => {
  const namespace = `p${randomBytes(4).toString('hex')}`;
  const base = `${TEST_DATABASE_SERVER}/t_${randomBytes(6).toString('hex')}`;
  const env: Record<string, string> = {
    [PROVISION_DATABASE_URL]: `${TEST_DATABASE_SERVER}/postgres`,
    [MIGRATE_DATABASE_URL]: withCredentials(base, ownerRoleOf({ namespace }), randomBytes(12).toString('hex')),
  };
  for (const app of DATABASE_APPS) env[databaseUrlEnvOf(app)] = withCredentials(base, databaseRoleOf(app, { namespace }), randomBytes(12).toString('hex'));
  const passwords = () => Object.entries(env).filter(([k]) => k !== PROVISION_DATABASE_URL).map(([, url]) => decodeURIComponent(new URL(url).password));
  let dir: string;
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'provision-db-'));
    // an existing deployment: the schema migrated by the administrator, before there were roles
    await ensureDatabase(base);
    await runMigrations(base);
  }, 120_000);

  afterAll(async () => {
    rmSync(dir, { recursive: true, force: true });
    await dropDatabase(base);
    await dropDatabaseRoles(`${TEST_DATABASE_SERVER}/postgres`, { namespace });
  }, 60_000);

  it('refuses, exit 2, a URL that does not connect as the role provisioning creates, naming the variable', async () => {
    const o = io();
    const code = await runProvisionCli(['--database-only', '--namespace', namespace], { ...env, API_DATABASE_URL: withCredentials(base, 'postgres', 'x') }, o.io, dir);
    expect(code).toBe(2);
    expect(o.err.join('\n')).toContain(`API_DATABASE_URL connects as postgres; it must connect as ${databaseRoleOf('api', { namespace })}`);
  });

  it('creates the roles, hands the existing tables to the owner, and is idempotent, never printing a password', async () => {
    const first = io();
    const code = await runProvisionCli(['--database-only', '--namespace', namespace], { ...env }, first.io, dir);
    expect(first.err).toEqual([]);
    expect(code).toBe(0);
    expect(first.out).toContain(`PostgreSQL: created role ${databaseRoleOf('api', { namespace })}`);
    expect(first.out.some((l) => /now owned by .*_purple_owner/.test(l) && l.includes('schema_migrations'))).toBe(true);
    const second = io();
    expect(await runProvisionCli(['--database-only', '--namespace', namespace], { ...env }, second.io, dir)).toBe(0);
    expect(second.out).toHaveLength(1);
    expect(second.out[0]).toMatch(/^PostgreSQL: roles .* ready on database t_/);
    const printed = [...first.out, ...first.err, ...second.out].join('\n');
    for (const password of passwords()) expect(printed).not.toContain(password);
  }, 60_000);

  it('npm run migrate (a process) runs as the owner and grants each app exactly its tables', async () => {
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(
        process.execPath,
        [require.resolve('ts-node/dist/bin.js'), '-P', 'tools/tsconfig.json', 'tools/migrate/main.ts'],
        { cwd: REPO, env: { PATH: process.env['PATH'], ...env, BROKER_NAMESPACE: namespace, NODE_ENV: 'production' } },
        (_err, stdout, stderr) => done({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    expect(result.stdout).toContain('schema is up to date; nothing to apply');
    expect(result.stdout).toContain(`granted ${databaseRoleOf('caldera-bridge', { namespace })}: caldera_bridge_sent_link SELECT/INSERT\n`);
    expect(result.stdout).toContain(`granted ${databaseRoleOf('bus-router', { namespace })}: bus_client SELECT/UPDATE\n`);

    const asRouter = new Client({ connectionString: env[databaseUrlEnvOf('bus-router')] });
    await asRouter.connect();
    try {
      expect((await asRouter.query('SELECT count(*)::int AS n FROM bus_client')).rows).toEqual([{ n: 0 }]);
      const refused = await asRouter.query(`INSERT INTO bus_client (client_id, client_name, subscription, secret_hash) VALUES ('x', 'x', '#', 'x')`).then(
        () => null,
        (e: { code?: string }) => e.code,
      );
      expect(refused).toBe('42501');
    } finally {
      await asRouter.end();
    }
  }, 120_000);
});
