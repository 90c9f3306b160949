import * as amqp from 'amqplib';
import { APP_NAMES, ManagementApiError, ManagementClient, roleOf } from '../src';
import { BROKER, TestNamespace, provisionTestNamespace } from './support';

/**
 * The permission matrix, against the real broker: every checking-engine user tries every publish, consume, get
 * and declare in /caldera_checking, and the outcome must be exactly the table below.
 *
 * The table is written out by hand from the seed and DESIGN.md's fixes, deliberately not computed from the
 * topology code, so that a mistake in the topology fails here.
 */

const EXCHANGE = 'caldera.checking.exchange';
const DLX = 'caldera.checking.dlx';
const Q = {
  instructions: 'caldera.checking.instructions',
  apiTasks: 'caldera.checking.api.tasks',
  agentTasks: 'caldera.checking.agent.tasks',
  apiResponses: 'caldera.checking.api.responses',
  agentResponses: 'caldera.checking.agent.responses',
};
const WORKING_QUEUES = Object.values(Q);
const DEAD_LETTER_QUEUES = WORKING_QUEUES.map((q) => `${q}.dlq`);
const ALL_QUEUES = [...WORKING_QUEUES, ...DEAD_LETTER_QUEUES];
/** the five routing keys, plus one nobody but the admin may use (an injection attempt) */
const KEYS = [
  'caldera.execution.result',
  'checking.api.task',
  'checking.agent.task',
  'checking.api.response',
  'checking.agent.response',
  'checking.injected.task',
];
/** dead letters are published to the DLX with the name of the queue they leave as routing key */
const DLX_KEYS = WORKING_QUEUES;

const USERS = [
  'caldera_admin',
  'caldera_publisher',
  'checking_consumer',
  'checking_dispatcher',
  'checking_worker',
  'checking_result_consumer',
  'monitor_user',
] as const;
type User = (typeof USERS)[number];

const ALL = '*';
interface Allowed {
  /** routing keys it may publish to caldera.checking.exchange */
  publish: string[] | typeof ALL;
  /** routing keys (queue names) it may publish to caldera.checking.dlx, to dead-letter with a reason */
  deadLetter: string[] | typeof ALL;
  /** queues it may consume and basic.get */
  read: string[] | typeof ALL;
  /** whether it may declare (configure) anything */
  configure: boolean;
}

const EXPECTED: Record<User, Allowed> = {
  caldera_admin: { publish: ALL, deadLetter: ALL, read: ALL, configure: true },
  // fix: only its own key, never a task straight into the workers
  caldera_publisher: { publish: ['caldera.execution.result'], deadLetter: [], read: [], configure: false },
  checking_consumer: { publish: [], deadLetter: [Q.instructions], read: [Q.instructions], configure: false },
  checking_dispatcher: { publish: ['checking.api.task', 'checking.agent.task'], deadLetter: [], read: [], configure: false },
  checking_worker: {
    publish: ['checking.api.response', 'checking.agent.response'],
    deadLetter: [Q.apiTasks, Q.agentTasks],
    read: [Q.apiTasks, Q.agentTasks],
    configure: false,
  },
  checking_result_consumer: {
    publish: [],
    deadLetter: [Q.apiResponses, Q.agentResponses],
    // it also drains every dead-letter queue into PostgreSQL, for the API to list and replay
    read: [
      Q.apiResponses,
      Q.agentResponses,
      'caldera.checking.instructions.dlq',
      'caldera.checking.api.tasks.dlq',
      'caldera.checking.agent.tasks.dlq',
      'caldera.checking.api.responses.dlq',
      'caldera.checking.agent.responses.dlq',
    ],
    configure: false,
  },
  // fix: management API only; reading a queue over AMQP would consume production messages
  monitor_user: { publish: [], deadLetter: [], read: [], configure: false },
};

const allows = (list: string[] | typeof ALL, x: string) => list === ALL || list.includes(x);

const ALLOWED = 'allowed';
const REFUSED = 'ACCESS_REFUSED';
type Outcome = string;

interface Attempt {
  user: User;
  what: string;
  confirm?: boolean;
  run: (ch: amqp.Channel | amqp.ConfirmChannel) => Promise<unknown>;
  expected: Outcome;
}

interface AmqpFailure {
  code?: number;
  message: string;
}

function failureOf(err: unknown): AmqpFailure {
  const e = err as { code?: number; message?: string; fields?: { replyCode?: number; replyText?: string } };
  // amqplib rejects basic.get with the raw channel.close frame
  return { code: e?.code ?? e?.fields?.replyCode, message: e?.message ?? e?.fields?.replyText ?? String(err) };
}

const outcomeOf = (f: AmqpFailure): Outcome =>
  f.code === 403 && /ACCESS_REFUSED/.test(f.message) ? REFUSED : `unexpected failure ${f.code}: ${f.message}`;

/** One attempt on a fresh channel: a refusal closes the channel, so it waits for success or the close. */
async function attempt(conn: amqp.ChannelModel, a: Pick<Attempt, 'confirm' | 'run'>, timeoutMs = 10_000): Promise<Outcome> {
  let ch: amqp.Channel | amqp.ConfirmChannel;
  try {
    ch = a.confirm ? await conn.createConfirmChannel() : await conn.createChannel();
  } catch (err) {
    return `could not open a channel: ${failureOf(err).message}`;
  }
  let closeError: AmqpFailure | undefined;
  let timer: NodeJS.Timeout | undefined;
  const closed = new Promise<never>((_resolve, reject) => {
    ch.on('error', (err) => {
      closeError = failureOf(err);
      reject(closeError);
    });
    ch.on('close', () => reject(closeError ?? { message: 'channel closed' }));
    timer = setTimeout(() => reject({ message: `no answer within ${timeoutMs} ms` }), timeoutMs);
  });
  closed.catch(() => undefined);
  try {
    await Promise.race([a.run(ch), closed]);
    return ALLOWED;
  } catch (err) {
    return outcomeOf(closeError ?? failureOf(err));
  } finally {
    clearTimeout(timer);
    await ch.close().catch(() => undefined);
  }
}

const publish = (exchange: string, key: string) => (ch: amqp.Channel | amqp.ConfirmChannel) =>
  new Promise<void>((resolve, reject) =>
    (ch as amqp.ConfirmChannel).publish(exchange, key, Buffer.from('{"matrix":true}'), { contentType: 'application/json' }, (err) =>
      err ? reject(err) : resolve(),
    ),
  );

async function inBatches<T, R>(items: T[], size: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = [];
  for (let i = 0; i < items.length; i += size) out.push(...(await Promise.all(items.slice(i, i + size).map(fn))));
  return out;
}

const QUORUM = { durable: true, arguments: { 'x-queue-type': 'quorum' } };

function attemptsFor(user: User): Attempt[] {
  const e = EXPECTED[user];
  const yes = (ok: boolean) => (ok ? ALLOWED : REFUSED);
  const list: Attempt[] = [];
  for (const key of KEYS) {
    list.push({ user, what: `publish ${EXCHANGE} ${key}`, confirm: true, run: publish(EXCHANGE, key), expected: yes(allows(e.publish, key)) });
  }
  for (const key of DLX_KEYS) {
    list.push({ user, what: `publish ${DLX} ${key}`, confirm: true, run: publish(DLX, key), expected: yes(allows(e.deadLetter, key)) });
  }
  for (const q of ALL_QUEUES) {
    const read = yes(allows(e.read, q));
    list.push({ user, what: `consume ${q}`, run: (ch) => ch.consume(q, () => undefined), expected: read });
    list.push({ user, what: `get ${q}`, run: (ch) => ch.get(q), expected: read });
    list.push({ user, what: `declare queue ${q}`, run: (ch) => ch.assertQueue(q, QUORUM), expected: yes(e.configure) });
  }
  list.push({ user, what: `declare exchange ${EXCHANGE}`, run: (ch) => ch.assertExchange(EXCHANGE, 'topic', { durable: true }), expected: yes(e.configure) });
  list.push({ user, what: `declare exchange ${DLX}`, run: (ch) => ch.assertExchange(DLX, 'topic', { durable: true }), expected: yes(e.configure) });
  // a private queue of its own, bound to everything, would be a tap on the whole flow
  list.push({ user, what: 'declare a server-named exclusive queue', run: (ch) => ch.assertQueue('', { exclusive: true }), expected: yes(e.configure) });
  list.push({
    user,
    what: `bind ${Q.instructions} to ${EXCHANGE}`,
    run: (ch) => ch.bindQueue(Q.instructions, EXCHANGE, 'matrix.never.published'),
    expected: yes(e.configure), // binding needs write on the queue, which only the admin has
  });
  return list;
}

describe('permission matrix (real broker)', () => {
  let ns: TestNamespace;
  const connections = new Map<string, amqp.ChannelModel>();

  const connect = async (user: string, vhost: string) => {
    const key = `${user} ${vhost}`;
    let conn = connections.get(key);
    if (!conn) {
      conn = await amqp.connect(ns.amqpUrl(user, vhost));
      conn.on('error', () => undefined);
      connections.set(key, conn);
    }
    return conn;
  };

  beforeAll(async () => {
    ns = await provisionTestNamespace();
  }, 60_000);

  afterAll(async () => {
    await Promise.all([...connections.values()].map((c) => c.close().catch(() => undefined)));
    await ns?.dispose();
  }, 60_000);

  it.each(USERS)('%s: every publish, consume, get and declare is allowed or refused exactly as the table says', async (user) => {
    const conn = await connect(user, '/caldera_checking');
    const attempts = attemptsFor(user);
    const outcomes = await inBatches(attempts, 16, (a) => attempt(conn, a));
    const actual = Object.fromEntries(attempts.map((a, i) => [a.what, outcomes[i]]));
    const expected = Object.fromEntries(attempts.map((a) => [a.what, a.expected]));
    expect(actual).toEqual(expected);
  }, 60_000);

  it('spells out DESIGN.md’s fixes', async () => {
    const run = async (user: User, a: Pick<Attempt, 'confirm' | 'run'>) => attempt(await connect(user, '/caldera_checking'), a);
    // caldera_publisher cannot inject a task straight into the workers
    expect(await run('caldera_publisher', { confirm: true, run: publish(EXCHANGE, 'checking.api.task') })).toBe(REFUSED);
    expect(await run('caldera_publisher', { confirm: true, run: publish(EXCHANGE, 'caldera.execution.result') })).toBe(ALLOWED);
    // monitor_user cannot consume or get any queue
    for (const q of ALL_QUEUES) {
      expect(await run('monitor_user', { run: (ch) => ch.get(q) })).toBe(REFUSED);
      expect(await run('monitor_user', { run: (ch) => ch.consume(q, () => undefined) })).toBe(REFUSED);
    }
    // no service user can declare
    for (const user of USERS.filter((u) => u !== 'caldera_admin')) {
      expect(await run(user, { run: (ch) => ch.assertQueue(Q.instructions, QUORUM) })).toBe(REFUSED);
    }
  }, 60_000);

  it('lets monitor_user watch the queues through the management API, but not read their messages', async () => {
    const mgmt = (user: string) => new ManagementClient({ url: BROKER.managementUrl, ...ns.credentials(user) });
    const monitor = mgmt('monitor_user');
    const vhost = ns.vhost('/caldera_checking');
    const queues = await monitor.listQueues(vhost);
    // (plus, while its connection lasts, the admin's server-named exclusive queue from the matrix)
    expect(queues.map((q) => q.name).filter((n) => !n.startsWith('amq.gen-')).sort()).toEqual([...ALL_QUEUES].sort());
    expect(queues.every((q) => typeof q.messages === 'number' || q.messages === undefined)).toBe(true);
    // the management API's "get messages" is a basic.get too: refused
    await expect(
      monitor.post(`/api/queues/${encodeURIComponent(vhost)}/${encodeURIComponent(Q.instructions)}/get`, {
        count: 1,
        ackmode: 'ack_requeue_true',
        encoding: 'auto',
      }),
    ).rejects.toThrow(/ACCESS_REFUSED/);
    // the service users have no management access at all
    for (const user of ['caldera_publisher', 'checking_consumer', 'checking_dispatcher', 'checking_worker', 'checking_result_consumer']) {
      const err = await mgmt(user).overview().catch((e: unknown) => e);
      expect(err).toBeInstanceOf(ManagementApiError);
      expect((err as ManagementApiError).status).toBe(401);
    }
  }, 60_000);

  describe('passive declares', () => {
    it.each(APP_NAMES.map((app) => [app]))('%s can check that its own exchanges and queues exist', async (app) => {
      const role = roleOf(app, { namespace: ns.namespace });
      const conn = await connect(role.user, role.vhost);
      for (const x of role.exchanges) expect(`${x}: ${await attempt(conn, { run: (ch) => ch.checkExchange(x) })}`).toBe(`${x}: ${ALLOWED}`);
      for (const q of role.queues) expect(`${q}: ${await attempt(conn, { run: (ch) => ch.checkQueue(q) })}`).toBe(`${q}: ${ALLOWED}`);
      // and a missing object is a 404, which is what apps turn into their "provision first" message
      const missing = await attempt(conn, { run: (ch) => ch.checkQueue('caldera.checking.missing') });
      expect(missing).toMatch(/^unexpected failure 404: .*NOT_FOUND/);
    }, 30_000);

    it('need no permission at all, only access to the vhost (observed on RabbitMQ 3.10)', async () => {
      // monitor_user's permissions are ^$ ^$ ^$, yet passive declares of everything succeed: RabbitMQ checks
      // no configure/write/read permission for passive queue.declare and exchange.declare. They reveal only that
      // an object exists (and a queue's message and consumer counts), never a message.
      const conn = await connect('monitor_user', '/caldera_checking');
      for (const q of ALL_QUEUES) expect(await attempt(conn, { run: (ch) => ch.checkQueue(q) })).toBe(ALLOWED);
      for (const x of [EXCHANGE, DLX]) expect(await attempt(conn, { run: (ch) => ch.checkExchange(x) })).toBe(ALLOWED);
      // a user without any permission in a vhost cannot even open a connection there
      // (the broker answers connection.open with connection.close 530 NOT_ALLOWED; amqplib reports it like this)
      await expect(amqp.connect(ns.amqpUrl('checking_worker', '/soar'))).rejects.toThrow(/ConnectionClose|NOT_ALLOWED/);
    }, 30_000);
  });
});
