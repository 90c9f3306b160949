import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { BrokerNamespace, brokerSettings, createBrokerNamespace } from '@purple/testing';
import { PolicyDef, passwordMatchesHash } from '@purple/topology';
import { loadEnvFiles, parseEnvFile } from './env';
import { MissingPasswordError, ProvisionError, deprovision, provision, runProvisionCli } from './provision';

const settings = brokerSettings();
const admin = { managementUrl: settings.managementUrl, adminUser: settings.adminUser, adminPassword: settings.adminPassword };
const REPO = resolve(__dirname, '..', '..');

async function closedPort(): Promise<number> {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => done(port));
    });
  });
}

/** a fresh namespace with its names and passwords, not yet provisioned */
const unprovisioned = () => createBrokerNamespace({ provision: false });

const captured = () => {
  const lines: string[] = [];
  return { lines, log: (l: string) => lines.push(l) };
};

const noSecretsIn = (text: string, ns: BrokerNamespace) => {
  for (const p of Object.values(ns.passwords)) expect(text).not.toContain(p);
};

describe('provision (real broker)', () => {
  let ns: BrokerNamespace;
  beforeAll(async () => {
    ns = await unprovisioned();
  });
  afterAll(() => ns?.dispose(), 60_000);

  it('creates everything, then finds nothing to change, and never prints a password', async () => {
    const first = captured();
    const report1 = await provision({ ...admin, passwords: ns.passwords, namespace: ns.namespace, log: first.log });
    expect(report1.changes.length).toBeGreaterThan(40);
    expect(report1.warnings).toEqual([]);
    const kinds = new Set(report1.changes.map((c) => c.kind));
    expect([...kinds].sort()).toEqual(
      ['binding', 'exchange', 'permission', 'policy', 'queue', 'topic-permission', 'user', 'user-limit', 'vhost'].sort(),
    );
    // vhost objects are declared by the seed's administrator (in both vhosts: soar_admin is the api's, narrowed to
    // clients' queues), users and vhosts by the bootstrap admin
    for (const c of report1.changes) {
      if (['exchange', 'queue', 'binding', 'policy'].includes(c.kind)) {
        expect(c.as).toBe(ns.user('caldera_admin'));
      } else {
        expect(c.as).toBe(settings.adminUser);
      }
    }

    const second = captured();
    const report2 = await provision({ ...admin, passwords: ns.passwords, namespace: ns.namespace, log: second.log });
    expect(report2.changes).toHaveLength(0);
    expect(report2.warnings).toEqual([]);
    expect(second.lines).toEqual(['nothing to change']);

    noSecretsIn(first.lines.join('\n') + JSON.stringify(report1) + JSON.stringify(report2), ns);
  }, 60_000);

  it('leaves the bootstrap admin without the permissions the API grants a vhost creator', async () => {
    const c = ns.management();
    for (const vhost of ns.topology.vhosts) expect(await c.getPermission(vhost, settings.adminUser)).toBeUndefined();
  });

  it('put the broker in the state the topology describes', async () => {
    const c = ns.management();
    const vhost = ns.vhost('/caldera_checking');
    // the management API shows the effective policy once its stats caught up with the new queue
    let q = await c.getQueue(vhost, 'caldera.checking.api.tasks');
    // (stats are emitted every 5 s by default)
    for (let i = 0; i < 75 && !q?.['effective_policy_definition']; i++) {
      await new Promise((r) => setTimeout(r, 200));
      q = await c.getQueue(vhost, 'caldera.checking.api.tasks');
    }
    expect(q?.type).toBe('quorum');
    expect(q?.['policy']).toBe('caldera.checking.api.tasks');
    expect(q?.['effective_policy_definition']).toMatchObject({ overflow: 'reject-publish', 'dead-letter-strategy': 'at-least-once' });
    expect(await c.getUserLimits(ns.user('checking_worker'))).toEqual({ 'max-connections': 100 });
    const worker = await c.getUser(ns.user('checking_worker'));
    expect(passwordMatchesHash(ns.password('checking_worker'), worker?.password_hash ?? '', worker?.hashing_algorithm)).toBe(true);
  }, 30_000);

  it('repairs only what drifted', async () => {
    const c = ns.management();
    const vhost = ns.vhost('/caldera_checking');
    await c.putUser(ns.user('checking_dispatcher'), { tags: ['management'], password: 'drifted' });
    await c.putPermission({ user: ns.user('caldera_publisher'), vhost, configure: '.*', write: '.*', read: '.*' });
    const policy = ns.topology.policies.find((p) => p.vhost === vhost && p.name === 'caldera.checking.instructions') as PolicyDef;
    await c.putPolicy({ ...policy, definition: { 'max-length': 5 } });
    const [binding] = await c.getBindings(vhost, 'caldera.checking.exchange', 'caldera.checking.agent.tasks');
    // (the bootstrap admin has no permissions in the vhost, so the vhost's admin removes the binding)
    await ns.management('caldera_admin').deleteBinding(vhost, binding.source, binding.destination, binding.properties_key);
    await c.putUserLimit(ns.user('checking_worker'), 'max-connections', 5);

    const out = captured();
    const report = await provision({ ...admin, passwords: ns.passwords, namespace: ns.namespace, log: out.log });
    expect(report.changes.map((ch) => `${ch.action} ${ch.kind} ${ch.name}${ch.detail ? ` (${ch.detail})` : ''}`).sort()).toEqual(
      [
        `update user ${ns.user('checking_dispatcher')} (tags, password)`,
        `update permission ${ns.user('caldera_publisher')}`,
        `update policy caldera.checking.instructions`,
        `create binding caldera.checking.exchange → caldera.checking.agent.tasks ("checking.agent.task")`,
        `update user-limit ${ns.user('checking_worker')} max-connections=100`,
      ].sort(),
    );
    expect(out.lines.join('\n')).not.toContain('drifted');
    expect((await provision({ ...admin, passwords: ns.passwords, namespace: ns.namespace })).changes).toHaveLength(0);
  }, 60_000);

  it('refuses, changing nothing, when a queue exists with another type', async () => {
    const c = ns.management();
    const vhost = ns.vhost('/caldera_checking');
    const asAdmin = ns.management('caldera_admin');
    await asAdmin.deleteQueue(vhost, 'caldera.checking.agent.responses.dlq');
    await asAdmin.putQueue({ name: 'caldera.checking.agent.responses.dlq', vhost, durable: true, auto_delete: false, arguments: {} });
    await c.putPermission({ user: ns.user('monitor_user'), vhost, configure: '^$', write: '^$', read: '.*' });
    try {
      const err = (await provision({ ...admin, passwords: ns.passwords, namespace: ns.namespace }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(ProvisionError);
      expect(err.message).toMatch(/^refusing to provision, nothing was changed: queue caldera\.checking\.agent\.responses\.dlq in \/caldera_checking\.\w+ exists as a durable classic queue .* needs a durable quorum queue/);
      expect(err.message).not.toMatch(/\n/);
      // nothing changed: the drifted permission is still there
      expect((await c.getPermission(vhost, ns.user('monitor_user')))?.read).toBe('.*');
    } finally {
      await asAdmin.deleteQueue(vhost, 'caldera.checking.agent.responses.dlq');
    }
    const report = await provision({ ...admin, passwords: ns.passwords, namespace: ns.namespace });
    expect(report.changes.map((ch) => `${ch.action} ${ch.kind}`).sort()).toEqual(['create binding', 'create queue', 'update permission']);
  }, 60_000);
});

describe('provision failures', () => {
  let ns: BrokerNamespace;
  beforeAll(async () => {
    ns = await unprovisioned();
  });
  afterAll(() => ns?.dispose(), 60_000);

  it('rejects in one line when the broker cannot be reached', async () => {
    const port = await closedPort();
    const err = (await provision({ ...admin, managementUrl: `http://127.0.0.1:${port}`, passwords: ns.passwords, namespace: ns.namespace }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(ProvisionError);
    expect(err.message).toBe(`cannot reach the management API at http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('rejects in one line, without the password, when the admin credentials are wrong', async () => {
    const out = captured();
    const err = (await provision({ ...admin, adminPassword: 'not-the-Pa55word', passwords: ns.passwords, namespace: ns.namespace, log: out.log }).catch(
      (e: unknown) => e,
    )) as Error;
    expect(err).toBeInstanceOf(ProvisionError);
    expect(err.message).toMatch(new RegExp(`refused the bootstrap admin '${settings.adminUser}' \\(401 Login failed\\)`));
    expect(err.message).not.toContain('not-the-Pa55word');
    expect(err.message).not.toMatch(/\n/);
    expect(out.lines).toEqual([]);
  });

  it('names the variable of a missing password before contacting the broker', async () => {
    const passwords = { ...ns.passwords };
    delete passwords[ns.user('checking_result_consumer')];
    const err = await provision({ ...admin, managementUrl: 'http://127.0.0.1:9', passwords, namespace: ns.namespace }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(MissingPasswordError);
    expect((err as Error).message).toBe('missing password: set CHECKING_RESULT_CONSUMER_PASSWORD');
  });

  it('refuses a bootstrap user that is not an administrator', async () => {
    const other = await createBrokerNamespace();
    try {
      const err = (await provision({
        ...admin,
        adminUser: other.user('monitor_user'),
        adminPassword: other.password('monitor_user'),
        passwords: ns.passwords,
        namespace: ns.namespace,
      }).catch((e: unknown) => e)) as Error;
      expect(err).toBeInstanceOf(ProvisionError);
      expect(err.message).toMatch(/is not an administrator \(tags: monitoring\)/);
    } finally {
      await other.dispose();
    }
  }, 60_000);
});

describe('deprovision', () => {
  it('refuses without a namespace', async () => {
    await expect(deprovision({ ...admin, namespace: '' })).rejects.toThrow(/needs a namespace/);
    await expect(deprovision({ ...admin, namespace: '../x' })).rejects.toThrow(/needs a namespace/);
  });

  it('removes the namespace’s vhosts and users, and nothing else', async () => {
    const ns = await createBrokerNamespace();
    const c = ns.management();
    const before = { vhosts: (await c.listVhosts()).map((v) => v.name), users: (await c.listUsers()).map((u) => u.name) };
    const { removed } = await deprovision({ ...admin, namespace: ns.namespace });
    expect(removed.sort()).toEqual([...ns.topology.vhosts.map((v) => `vhost ${v}`), ...ns.topology.users.map((u) => `user ${u.name}`)].sort());
    const after = { vhosts: (await c.listVhosts()).map((v) => v.name), users: (await c.listUsers()).map((u) => u.name) };
    expect(after.vhosts.sort()).toEqual(before.vhosts.filter((v) => !ns.topology.vhosts.includes(v)).sort());
    expect(after.users.sort()).toEqual(before.users.filter((u) => !u.startsWith(`${ns.namespace}_`)).sort());
    expect(after.users).toContain('guest');
    expect(after.vhosts).toContain('/');
    await ns.dispose(); // a second removal is harmless
  }, 60_000);
});

describe('the CLI', () => {
  const io = () => {
    const out: string[] = [];
    const err: string[] = [];
    return { out, err, io: { out: (l: string) => out.push(l), err: (l: string) => err.push(l) } };
  };
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'provision-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('exports definitions.json without contacting the broker', async () => {
    const ns = await unprovisioned();
    const file = join(dir, 'definitions.json');
    const port = await closedPort();
    const o = io();
    const code = await runProvisionCli(['--export', file], { ...ns.env(), BROKER_NAMESPACE: '', RABBITMQ_MANAGEMENT_URL: `http://127.0.0.1:${port}` }, o.io, dir);
    expect(o.err).toEqual([]);
    expect(code).toBe(0);
    const text = readFileSync(file, 'utf8');
    noSecretsIn(text + o.out.join('\n'), ns);
    const defs = JSON.parse(text);
    expect(defs.vhosts).toEqual([{ name: '/caldera_checking' }, { name: '/soar' }]);
    const worker = defs.users.find((u: { name: string }) => u.name === 'checking_worker');
    expect(passwordMatchesHash(ns.password('checking_worker'), worker.password_hash, worker.hashing_algorithm)).toBe(true);
    expect(statSync(file).mode & 0o077).toBe(0);
  });

  it('provisions a namespace given on the command line, then has nothing to change', async () => {
    const ns = await unprovisioned();
    try {
      const env = { ...ns.env(), BROKER_NAMESPACE: '', RABBITMQ_MANAGEMENT_URL: settings.managementUrl, RABBITMQ_ADMIN_USER: settings.adminUser, RABBITMQ_ADMIN_PASSWORD: settings.adminPassword };
      const first = io();
      expect(await runProvisionCli(['--namespace', ns.namespace], { ...env }, first.io, dir)).toBe(0);
      const second = io();
      expect(await runProvisionCli(['--namespace', ns.namespace], { ...env }, second.io, dir)).toBe(0);
      expect(second.out.slice(1)).toEqual(['nothing to change', 'PostgreSQL: PROVISION_DATABASE_URL is not set; its roles and database were left as they are']);
      noSecretsIn([...first.out, ...first.err, ...second.out].join('\n'), ns);
    } finally {
      await ns.dispose();
    }
  }, 60_000);

  it('exits 2 naming the missing password variable', async () => {
    const o = io();
    expect(await runProvisionCli([], { CALDERA_ADMIN_PASSWORD: 'x' }, o.io, dir)).toBe(2);
    expect(o.err).toHaveLength(1);
    expect(o.err[0]).toMatch(/^provision: missing passwords: set CALDERA_PUBLISHER_PASSWORD, /);
  });

  it('fills missing values from .env, then .env.example, never over the real environment', () => {
    const root = mkdtempSync(join(dir, 'root-'));
    writeFileSync(join(root, '.env'), 'A=from-dotenv\nexport B="quoted # not a comment"\n# C=commented\n');
    writeFileSync(join(root, '.env.example'), "A=from-example\nC='single'\nD=plain # trailing comment\n");
    const env: NodeJS.ProcessEnv = { A: undefined, B: 'real' };
    expect(loadEnvFiles(root, env)).toEqual(['.env', '.env.example']);
    expect(env).toEqual({ A: 'from-dotenv', B: 'real', C: 'single', D: 'plain' });
    expect(parseEnvFile('X="a\\nb"')).toEqual({ X: 'a\nb' });
  });

  it('as a process: exit code 1 and one line on stderr when the broker is down', async () => {
    const port = await closedPort();
    const ns = await unprovisioned();
    const result = await new Promise<{ code: number | null; stdout: string; stderr: string }>((done) => {
      const child = execFile(
        process.execPath,
        [require.resolve('ts-node/dist/bin.js'), '-P', 'tools/tsconfig.json', 'tools/provision/main.ts'],
        { cwd: REPO, env: { ...process.env, ...ns.env(), BROKER_NAMESPACE: '', RABBITMQ_MANAGEMENT_URL: `http://127.0.0.1:${port}` } },
        (_err, stdout, stderr) => done({ code: child.exitCode, stdout, stderr }),
      );
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toBe(`provision: cannot reach the management API at http://127.0.0.1:${port}: ECONNREFUSED\n`);
  }, 60_000);
});
