import {
  APP_NAMES,
  PolicyDef,
  QueueDef,
  buildTopology,
  clientTopology,
  hashPassword,
  passwordMatchesHash,
  passwordsFromEnv,
  roleOf,
  toDefinitions,
  vhostAdminOf,
} from '../src';

/**
 * The names below are written out from the seed and DESIGN.md on purpose, not imported: these tests are the
 * check that the topology code says what the documents say.
 */
const CHECKING = '/caldera_checking';
const SOAR = '/soar';
const WORKING_QUEUES = [
  'caldera.checking.instructions',
  'caldera.checking.api.tasks',
  'caldera.checking.agent.tasks',
  'caldera.checking.api.responses',
  'caldera.checking.agent.responses',
];
const SEED_BINDINGS: Array<[string, string]> = [
  ['caldera.checking.instructions', 'caldera.execution.result'],
  ['caldera.checking.api.tasks', 'checking.api.task'],
  ['caldera.checking.agent.tasks', 'checking.agent.task'],
  ['caldera.checking.api.responses', 'checking.api.response'],
  ['caldera.checking.agent.responses', 'checking.agent.response'],
];
const ROUTING_KEYS = SEED_BINDINGS.map(([, k]) => k);
const CHECKING_USERS = [
  'caldera_admin',
  'caldera_publisher',
  'checking_consumer',
  'checking_dispatcher',
  'checking_worker',
  'checking_result_consumer',
  'monitor_user',
];
/** the seed: "monitor_user and caldera_admin: No explicit limits (admin users)"; soar_admin likewise */
const UNLIMITED_USERS = ['caldera_admin', 'monitor_user', 'soar_admin'];

const topology = buildTopology();
const sampleClient = clientTopology('noc-glider7', 'soar.noc.slocum.#');
const allQueues: QueueDef[] = [...topology.queues, ...sampleClient.queues];
const isDeadLetterQueue = (q: QueueDef) => /(\.|-)dlq$/.test(q.name);
const matchingPolicies = (q: QueueDef): PolicyDef[] =>
  topology.policies.filter((p) => p.vhost === q.vhost && p['apply-to'] === 'queues' && new RegExp(p.pattern).test(q.name));

describe('names, exactly as the seed', () => {
  it('has the two vhosts', () => {
    expect(topology.vhosts).toEqual([CHECKING, SOAR]);
  });

  it('has the checking exchange, topic and durable, as the seed', () => {
    const x = topology.exchanges.find((e) => e.name === 'caldera.checking.exchange');
    expect(x).toMatchObject({ vhost: CHECKING, type: 'topic', durable: true, auto_delete: false, internal: false, arguments: {} });
  });

  it('has the five queues and one dead-letter queue per queue, nothing else, in /caldera_checking', () => {
    const names = topology.queues.filter((q) => q.vhost === CHECKING).map((q) => q.name);
    expect(names.sort()).toEqual([...WORKING_QUEUES, ...WORKING_QUEUES.map((q) => `${q}.dlq`)].sort());
  });

  it('binds each queue with the seed routing key, and each DLQ from the DLX by its queue name', () => {
    const bindings = topology.bindings.filter((b) => b.vhost === CHECKING).map((b) => [b.source, b.destination, b.routing_key]);
    expect(bindings.sort()).toEqual(
      [
        ...SEED_BINDINGS.map(([q, k]) => ['caldera.checking.exchange', q, k]),
        ...WORKING_QUEUES.map((q) => ['caldera.checking.dlx', `${q}.dlq`, q]),
      ].sort(),
    );
  });

  it('has the seed users, each with a permission in /caldera_checking, and their password variables', () => {
    for (const u of CHECKING_USERS) {
      const user = topology.users.find((x) => x.name === u);
      expect(user).toBeDefined();
      expect(user?.passwordEnv).toBe(`${u.toUpperCase()}_PASSWORD`);
      expect(topology.permissions.some((p) => p.user === u && p.vhost === CHECKING)).toBe(true);
    }
    expect(topology.users.map((u) => u.name).sort()).toEqual(
      [...CHECKING_USERS, 'soar_admin', 'soar_api', 'soar_router'].sort(),
    );
  });

  it('declares both vhosts as caldera_admin, the seed administrator no app uses (issue 12 #12)', () => {
    expect(vhostAdminOf(topology, CHECKING)).toBe('caldera_admin');
    expect(vhostAdminOf(topology, SOAR)).toBe('caldera_admin');
  });

  it('narrows soar_admin to the management API and a client\'s own queues (issue 12 #12)', () => {
    expect(topology.users.find((u) => u.name === 'soar_admin')?.tags).toEqual(['management']);
    const perms = topology.permissions.filter((p) => p.user === 'soar_admin');
    expect(perms.map((p) => p.vhost)).toEqual([SOAR]);
    const [p] = perms;
    const re = (s: string) => new RegExp(s);
    for (const q of ['noc-c2-outbox', 'noc-c2-broadcast', 'noc-c2-inbox', 'noc-c2-dlq']) {
      expect(q).toMatch(re(p.configure));
      expect(q).toMatch(re(p.write));
    }
    for (const other of ['soar-router-retry', 'soar-router-retry-dlq', 'soar-send', 'soar-direct', 'soar-broadcast', 'amq.default', 'noc-c2-other']) {
      expect(other).not.toMatch(re(p.configure));
    }
    expect('soar-dlx').toMatch(re(p.write));
    for (const exchange of ['soar-send', 'soar-notify', 'soar-publish', 'soar-broadcast', 'soar-direct']) expect(exchange).not.toMatch(re(p.write));
    for (const exchange of ['soar-send', 'soar-notify', 'soar-publish', 'soar-broadcast', 'soar-direct', 'soar-dlx']) expect(exchange).toMatch(re(p.read));
    expect('soar-retry').not.toMatch(re(p.read));
  });

  it('namespaces vhosts and users only', () => {
    const t = buildTopology({ namespace: 'tx1' });
    expect(t.vhosts).toEqual(['/caldera_checking.tx1', '/soar.tx1']);
    expect(t.users.every((u) => u.name.startsWith('tx1_'))).toBe(true);
    expect(t.users.find((u) => u.name === 'tx1_checking_worker')?.passwordEnv).toBe('CHECKING_WORKER_PASSWORD');
    expect(t.queues.map((q) => q.name)).toEqual(topology.queues.map((q) => q.name));
    expect(t.permissions.every((p) => p.user.startsWith('tx1_') && p.vhost.endsWith('.tx1'))).toBe(true);
  });
});

describe('queues and policies', () => {
  it('makes every queue a durable quorum queue (ha-mode mirroring is gone in RabbitMQ 4)', () => {
    for (const q of allQueues) {
      expect(q.arguments['x-queue-type']).toBe('quorum');
      expect(q.durable).toBe(true);
      expect(q.auto_delete).toBe(false);
    }
  });

  it('compiles every policy pattern', () => {
    for (const p of topology.policies) expect(() => new RegExp(p.pattern)).not.toThrow();
    expect(topology.policies.every((p) => !('ha-mode' in p.definition))).toBe(true);
  });

  it.each(allQueues.filter((q) => !isDeadLetterQueue(q)).map((q) => [q.name, q] as const))(
    'working queue %s has exactly one policy: bounded, reject-publish, TTL, DLX, at-least-once',
    (_name, q) => {
      const policies = matchingPolicies(q);
      expect(policies.map((p) => p.name)).toHaveLength(1);
      const d = policies[0].definition;
      expect(d['overflow']).toBe('reject-publish');
      expect(d['max-length']).toBe(10_000);
      expect(d['message-ttl']).toBe(3_600_000);
      expect(d['dead-letter-strategy']).toBe('at-least-once');
      expect(typeof d['dead-letter-exchange']).toBe('string');
      expect(topology.exchanges.some((x) => x.vhost === q.vhost && x.name === d['dead-letter-exchange'])).toBe(true);
    },
  );

  it.each(allQueues.filter(isDeadLetterQueue).map((q) => [q.name, q] as const))(
    'dead-letter queue %s has exactly one policy, without TTL and without silent drops',
    (_name, q) => {
      const policies = matchingPolicies(q);
      expect(policies).toHaveLength(1);
      const d = policies[0].definition;
      expect(d['message-ttl']).toBeUndefined();
      expect(d['dead-letter-exchange']).toBeUndefined();
      expect(d['overflow']).toBe('reject-publish');
      expect(q.arguments['x-message-ttl']).toBeUndefined();
    },
  );

  it('routes every working queue’s dead letters into its own dead-letter queue', () => {
    for (const q of allQueues.filter((x) => !isDeadLetterQueue(x))) {
      const d = matchingPolicies(q)[0].definition;
      // queue arguments win over the policy for the DLX and its routing key
      const dlx = (q.arguments['x-dead-letter-exchange'] ?? d['dead-letter-exchange']) as string;
      const key = (q.arguments['x-dead-letter-routing-key'] ?? d['dead-letter-routing-key']) as string;
      expect(key).toBeDefined();
      const bindings = [...topology.bindings, ...sampleClient.bindings].filter(
        (b) => b.vhost === q.vhost && b.source === dlx && b.routing_key === key,
      );
      const expected = q.vhost === CHECKING ? `${q.name}.dlq` : q.name === 'soar-router-retry' ? 'soar-router-retry-dlq' : 'noc-glider7-dlq';
      expect(bindings.map((b) => b.destination)).toEqual([expected]);
    }
  });
});

describe('users and permissions', () => {
  it('limits every non-admin user to 100 connections, and no admin user', () => {
    for (const u of topology.users) {
      const bare = u.name;
      if (UNLIMITED_USERS.includes(bare)) expect(u.maxConnections).toBeUndefined();
      else expect(u.maxConnections).toBe(100);
    }
  });

  it('lets the router write one copy per inbox (soar-direct), park refused copies (soar-retry) and read them back, and nothing more', () => {
    const router = topology.permissions.find((p) => p.user === 'soar_router' && p.vhost === SOAR);
    const writes = (name: string) => new RegExp(router?.write ?? '^$').test(name);
    const reads = (name: string) => new RegExp(router?.read ?? '^$').test(name);
    expect(['soar-direct', 'soar-retry', 'soar-dlx'].map(writes)).toEqual([true, true, true]);
    expect(['soar-publish', 'soar-broadcast', 'soar-send', 'soar-notify', 'amq.default'].map(writes)).toEqual([false, false, false, false, false]);
    expect(['soar-router-retry', 'noc-c2-outbox', 'noc-c2-broadcast', 'noc-c2-inbox'].map(reads)).toEqual([true, true, true, true]);
    expect(['soar-router-retry-dlq', 'noc-c2-dlq'].map(reads)).toEqual([false, false]);
    expect(topology.bindings.filter((b) => b.source === 'soar-retry').map((b) => b.destination)).toEqual(['soar-router-retry']);
  });

  it('gives no app role any configure permission', () => {
    for (const app of APP_NAMES) {
      const role = roleOf(app);
      const perms = topology.permissions.filter((p) => p.user === role.user);
      expect(perms.length).toBeGreaterThan(0);
      for (const p of perms) expect(p.configure).toBe('^$');
    }
    for (const p of topology.permissions) {
      if (p.user === 'soar_admin') expect(p.configure).toMatch(/-\(outbox\|broadcast\|inbox\|dlq\)\$$/);
      else if (p.user !== 'caldera_admin') expect(p.configure).toBe('^$');
    }
  });

  it('gives monitor_user the monitoring tag and no queue or exchange access over AMQP', () => {
    expect(topology.users.find((u) => u.name === 'monitor_user')?.tags).toEqual(['monitoring']);
    for (const p of topology.permissions.filter((x) => x.user === 'monitor_user')) {
      expect([p.configure, p.write, p.read]).toEqual(['^$', '^$', '^$']);
    }
  });

  it('pins each publisher to its own routing keys on the checking exchange', () => {
    const allowed = (user: string) => {
      const tp = topology.topicPermissions.find((t) => t.user === user && t.exchange === 'caldera.checking.exchange');
      return tp ? ROUTING_KEYS.filter((k) => new RegExp(tp.write).test(k)) : 'unrestricted';
    };
    expect(allowed('caldera_publisher')).toEqual(['caldera.execution.result']);
    expect(allowed('checking_dispatcher')).toEqual(['checking.api.task', 'checking.agent.task']);
    expect(allowed('checking_worker')).toEqual(['checking.api.response', 'checking.agent.response']);
  });

  it('gives every user in a vhost a permission there only if it needs one', () => {
    for (const p of topology.permissions) {
      expect(topology.users.some((u) => u.name === p.user)).toBe(true);
      expect(topology.vhosts).toContain(p.vhost);
      for (const re of [p.configure, p.write, p.read]) expect(() => new RegExp(re)).not.toThrow();
    }
  });
});

describe('definitions', () => {
  it('hashes passwords the RabbitMQ way (the documentation example)', () => {
    expect(hashPassword('test12', Buffer.from('908DC60A', 'hex'))).toBe('kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR');
    expect(passwordMatchesHash('test12', 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR')).toBe(true);
    expect(passwordMatchesHash('test13', 'kI3GCqW5JLMJa4iX1lo7X4D6XbYqlLgxIs30+P6tENUV2POR')).toBe(false);
    const h = hashPassword('é-ü');
    expect(passwordMatchesHash('é-ü', h)).toBe(true);
    expect(hashPassword('é-ü')).not.toBe(h); // fresh salt
  });

  it('exports every object, with hashed passwords and limits', () => {
    const passwords = Object.fromEntries(topology.users.map((u) => [u.name, `secret-of-${u.name}`]));
    const defs = toDefinitions(topology, passwords);
    expect(JSON.stringify(defs)).not.toContain('secret-of-');
    expect(defs.vhosts).toEqual([{ name: CHECKING }, { name: SOAR }]);
    expect(defs.queues).toHaveLength(topology.queues.length);
    expect(defs.bindings).toHaveLength(topology.bindings.length);
    expect(defs.policies).toHaveLength(topology.policies.length);
    expect(defs.topic_permissions).toHaveLength(topology.topicPermissions.length);
    const pub = defs.users.find((u) => u.name === 'caldera_publisher');
    expect(pub).toMatchObject({ hashing_algorithm: 'rabbit_password_hashing_sha256', tags: [], limits: { 'max-connections': 100 } });
    expect(passwordMatchesHash('secret-of-caldera_publisher', pub?.password_hash ?? '')).toBe(true);
    expect(defs.users.find((u) => u.name === 'caldera_admin')).toMatchObject({ tags: ['policymaker'], limits: {} });
  });

  it('names the variable of a missing password', () => {
    expect(() => toDefinitions(topology, {})).toThrow(/CALDERA_ADMIN_PASSWORD/);
    const env = Object.fromEntries(topology.users.map((u) => [u.passwordEnv, 'x']));
    delete env.CHECKING_WORKER_PASSWORD;
    expect(() => passwordsFromEnv(topology, env)).toThrow('missing password: set CHECKING_WORKER_PASSWORD');
  });
});
