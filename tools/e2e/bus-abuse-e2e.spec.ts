import { ServiceProcess, startServiceProcesses } from '@purple/detection/testing';
import { REJECTION_REASON_HEADER } from '@purple/messaging';
import { BrokerNamespace, TestDatabase, createBrokerNamespace, createTestDatabase, eventually } from '@purple/testing';
import { SOAR_EXCHANGES, SOAR_VHOST, workingQueuePolicy } from '@purple/topology';
import * as amqp from 'amqplib';
import { randomBytes, randomUUID } from 'node:crypto';

/**
 * Issue 12, item 2, with the api and the bus-router as processes of their own: one client never reads (its inbox
 * fills), another floods 20,000 POST /notify (the send quota throttles it), while a third pair exchanges messages
 * normally and gets each exactly once.
 */
const FLOOD = 20_000;
const PAIR_MESSAGES = 150;
const FULL_INBOX_LENGTH = 100;

type Envelope = { message_id: string; topic: string; sender: string; message: unknown };

describe('bus abuse: a full inbox and a flooding sender next to a normal pair (api + bus-router processes)', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  const apps: Partial<Record<'api' | 'bus-router', ServiceProcess>> = {};
  let url: string;
  const env: Record<string, string> = {};

  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    Object.assign(env, {
      ...broker.env(),
      DATABASE_URL: db.url,
      LOG_LEVEL: 'warn',
      RABBITMQ_MANAGEMENT_URL: broker.settings.managementUrl,
      TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
      ADMIN_CLIENT_ID: 'admin',
      ADMIN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
      WEBHOOK_SECRET_KEY: randomBytes(24).toString('hex'),
      SEND_RATE_PER_SECOND: '50',
      ROUTER_INBOX_FULL_RETRY_MS: '10000',
    });
    Object.assign(apps, await startServiceProcesses(['api', 'bus-router'] as const, env, 180_000));
    url = `http://127.0.0.1:${apps.api?.port}`;
  }, 240_000);

  afterAll(async () => {
    await Promise.all(Object.values(apps).map((app) => app?.stop()));
    await Promise.all([broker?.dispose(), db?.drop()]);
  }, 60_000);

  async function call(method: string, path: string, token: string | undefined, options: { json?: unknown; form?: URLSearchParams; headers?: Record<string, string> } = {}) {
    const headers: Record<string, string> = { ...options.headers };
    if (token) headers['authorization'] = `Bearer ${token}`;
    let body: string | undefined;
    if (options.json !== undefined) [headers['content-type'], body] = ['application/json', JSON.stringify(options.json)];
    if (options.form) [headers['content-type'], body] = ['application/x-www-form-urlencoded', options.form.toString()];
    // a keep-alive connection the server closed at the same moment resets; every caller here may safely repeat
    let res: Response | undefined;
    for (let attempt = 1; !res; attempt++) {
      res = await fetch(url + path, { method, headers, body }).catch((error: Error) => {
        if (attempt >= 5) throw error;
        return undefined;
      });
    }
    const text = await res.text();
    return { status: res.status, retryAfter: Number(res.headers.get('retry-after') ?? 0), body: text ? JSON.parse(text) : undefined };
  }
  const token = async (id: string, secret: string) =>
    (await call('POST', '/token', undefined, { form: new URLSearchParams({ grant_type: 'client_credentials', client_id: id, client_secret: secret }) })).body.access_token as string;

  it('delivers the pair’s messages exactly once while the flood is throttled and the full inbox overflows into its dead letters', async () => {
    // the api creates its admin client just after it starts
    const admin = await eventually(async () => token('admin', env['ADMIN_CLIENT_SECRET']), 30_000, 250);
    const tokens: Record<string, string> = {};
    for (const [id, subscription] of [['idle', 'soar.idle.#'], ['flooder', 'soar.flooder.#'], ['alpha', 'soar.pair.alpha.#'], ['bravo', 'soar.pair.bravo.#']]) {
      const created = await call('POST', '/clients', admin, { json: { client_id: id, client_name: id, subscription } });
      expect(created.status).toBe(201);
      tokens[id] = await token(id, created.body.client_secret);
    }
    // the idle client's inbox holds little, so the flood overflows it (production allows 10,000)
    await broker.management('soar_admin').putPolicy({
      name: 'test.idle-inbox-small',
      vhost: broker.vhost(SOAR_VHOST),
      pattern: '^(idle|flooder)-inbox$',
      'apply-to': 'queues',
      priority: 10,
      definition: { ...workingQueuePolicy(SOAR_EXCHANGES.dlx), 'max-length': FULL_INBOX_LENGTH },
    });

    // the pair reads all the time, as a normal client does (the flood's broadcasts reach it too)
    const received: Record<'alpha' | 'bravo', Envelope[]> = { alpha: [], bravo: [] };
    let reading = true;
    const readers = (['alpha', 'bravo'] as const).map(async (id) => {
      while (reading) {
        const reply = await call('GET', '/receive?max_messages=100&wait_seconds=1', tokens[id]).catch(() => undefined);
        if (reply?.status === 200) received[id].push(...(reply.body as Envelope[]));
      }
    });

    // a well-behaved sender: waits Retry-After on 429, and retries with its Idempotency-Key
    const sendOnce = async (from: string, topic: string, i: number) => {
      const key = randomUUID();
      for (;;) {
        const reply = await call('POST', '/send', tokens[from], { json: { topic, message: { i } }, headers: { 'idempotency-key': key } });
        if (reply.status === 202) return reply.body.message_id as string;
        expect([429, 503]).toContain(reply.status);
        await new Promise((r) => setTimeout(r, (reply.retryAfter || 1) * 1000));
      }
    };
    const sendAll = async (from: string, topic: string) => {
      const ids: string[] = [];
      for (let i = 0; i < PAIR_MESSAGES; i++) ids.push(await sendOnce(from, topic, i));
      return ids;
    };

    const flood = { accepted: 0, throttled: 0, other: 0 };
    const flooding = (async () => {
      let next = 0;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (next < FLOOD) {
            const i = next++;
            const reply = await call('POST', '/notify', tokens['flooder'], { json: { message: { flood: i } } });
            if (reply.status === 202) flood.accepted++;
            else if (reply.status === 429 && reply.retryAfter >= 1) flood.throttled++;
            else flood.other++;
          }
        }),
      );
    })();

    const pairOf = (list: Envelope[], sender: string) => list.filter((e) => e.sender === sender).map((e) => e.message_id);
    const started = Date.now();
    const progress = setInterval(() => {
      const pair = `${pairOf(received.bravo, 'alpha').length}+${pairOf(received.alpha, 'bravo').length}`;
      console.log(`after ${Date.now() - started} ms: flood ${JSON.stringify(flood)}, pair messages received ${pair}, broadcasts received ${received.alpha.length - pairOf(received.alpha, 'bravo').length}`);
    }, 20_000);
    progress.unref();
    const [alphaSent, bravoSent] = await Promise.all([sendAll('alpha', 'soar.pair.bravo.msg'), sendAll('bravo', 'soar.pair.alpha.msg')]);
    await eventually(async () => pairOf(received.bravo, 'alpha').length >= PAIR_MESSAGES && pairOf(received.alpha, 'bravo').length >= PAIR_MESSAGES, 180_000, 250);
    const pairDoneMs = Date.now() - started;
    await flooding;
    console.log(
      `flood: ${flood.accepted} accepted, ${flood.throttled} answered 429 with Retry-After, ${flood.other} other; ` +
        `the pair's ${2 * PAIR_MESSAGES} messages all received after ${pairDoneMs} ms`,
    );
    expect(flood.other).toBe(0);
    expect(flood.throttled).toBeGreaterThan(0);
    expect(flood.accepted + flood.throttled).toBe(FLOOD);

    // every broadcast the flood got accepted reaches the pair once, as every pair message does
    await eventually(async () => received.alpha.filter((e) => e.sender === 'flooder').length >= flood.accepted, 300_000, 500);
    await eventually(async () => received.bravo.filter((e) => e.sender === 'flooder').length >= flood.accepted, 300_000, 500);
    reading = false;
    clearInterval(progress);
    await Promise.all(readers);
    expect(pairOf(received.bravo, 'alpha')).toEqual(alphaSent);
    expect(pairOf(received.alpha, 'bravo')).toEqual(bravoSent);
    for (const id of ['alpha', 'bravo'] as const) {
      const ids = received[id].map((e) => e.message_id);
      expect(new Set(ids).size).toBe(ids.length);
      expect(received[id].filter((e) => e.sender === 'flooder')).toHaveLength(flood.accepted);
    }

    // the full inboxes stayed at their limit, and what did not fit is dead-lettered to them with the reason
    const connection = await amqp.connect(broker.amqpUrl('soar_admin', SOAR_VHOST));
    try {
      const channel = await connection.createChannel();
      expect((await channel.checkQueue('idle-inbox')).messageCount).toBeLessThanOrEqual(FULL_INBOX_LENGTH + 1);
      const deadLetter = await eventually(async () => channel.get('idle-dlq', { noAck: true }), 60_000, 500);
      expect(deadLetter && deadLetter.properties.headers?.[REJECTION_REASON_HEADER]).toBe('inbox full');
    } finally {
      await connection.close();
    }
  }, 900_000);
});
