import { INestApplication } from '@nestjs/common';
import { TcpProxy, baseUrl, databaseEnv, eventually } from '@purple/testing';
import type { ConfirmChannel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { Client } from 'pg';
import { ApiClient, ApiHarness, CreatedClient, adminChannel, apiEnv, createClient, drain, startApi, startHarness, unusedPort } from './support';

/** Idempotent send (issue 11, fix 4): one key, one message, whatever retries, replicas and restarts do. */
describe('api: Idempotency-Key on POST /send and POST /notify (real broker and database)', () => {
  let h: ApiHarness;
  let admin: { channel: ConfirmChannel; close(): Promise<void> };
  let alpha: CreatedClient;
  let bravo: CreatedClient;

  beforeAll(async () => {
    h = await startHarness();
    admin = await adminChannel(h.broker);
    [alpha, bravo] = await Promise.all([
      createClient(h.api, h.adminToken, { client_id: 'alpha', subscription: 'soar.alpha.#' }),
      createClient(h.api, h.adminToken, { client_id: 'bravo', subscription: 'soar.bravo.#' }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await admin?.close();
    await h?.close();
  }, 60_000);

  const send = (api: ApiClient, client: CreatedClient, json: unknown, key?: string) =>
    api.request('POST', '/send', { token: client.token, json, headers: key === undefined ? {} : { 'idempotency-key': key } });
  const outbox = async (clientId: string) => (await drain(admin.channel, `${clientId}-outbox`)).map((m) => m.properties.messageId as string);

  it('answers a retry with the same key with the first message_id, publishing once', async () => {
    const key = randomUUID();
    const body = { topic: 'soar.bravo.report', message: { seq: 1 } };
    const first = await send(h.api, alpha, body, key);
    expect(first.status).toBe(202);
    const again = await send(h.api, alpha, body, key);
    expect(again.status).toBe(202);
    expect(again.body).toEqual(first.body);
    expect(await outbox('alpha')).toEqual([first.body.message_id]);
    // without a key, every request is a new message
    const [a, b] = [await send(h.api, alpha, body), await send(h.api, alpha, body)];
    expect(a.body.message_id).not.toBe(b.body.message_id);
    expect(await outbox('alpha')).toEqual([a.body.message_id, b.body.message_id]);
  });

  it('publishes once for concurrent requests with one key', async () => {
    const key = randomUUID();
    const body = { topic: 'soar.bravo.burst', message: 'once' };
    const replies = await Promise.all(Array.from({ length: 12 }, () => send(h.api, alpha, body, key)));
    expect(replies.map((r) => r.status)).toEqual(Array(12).fill(202));
    const ids = new Set(replies.map((r) => r.body.message_id));
    expect(ids.size).toBe(1);
    expect(await outbox('alpha')).toEqual([...ids]);
  });

  it('keeps keys per client, refuses a key reused for another request with 422, and a malformed key with 400', async () => {
    const key = randomUUID();
    const first = await send(h.api, alpha, { topic: 'soar.bravo.x', message: 1 }, key);
    const otherClient = await send(h.api, bravo, { topic: 'soar.bravo.x', message: 1 }, key);
    expect(otherClient.status).toBe(202);
    expect(otherClient.body.message_id).not.toBe(first.body.message_id);

    const otherBody = await send(h.api, alpha, { topic: 'soar.bravo.x', message: 2 }, key);
    expect(otherBody.status).toBe(422);
    expect(otherBody.body.message).toEqual([expect.stringMatching(/Idempotency-Key was used for a different request within the last 24 h/)]);
    const asNotify = await h.api.request('POST', '/notify', { token: alpha.token, json: { message: 1 }, headers: { 'idempotency-key': key } });
    expect(asNotify.status).toBe(422);

    for (const bad of ['x'.repeat(256), 'has space', 'tab\there']) {
      const reply = await send(h.api, alpha, { topic: 'soar.bravo.x', message: 1 }, bad);
      expect([reply.status, reply.body.message]).toEqual([400, ['Idempotency-Key must be 1 to 255 visible ASCII characters']]);
    }
    // an invalid body is refused before the key is remembered: the same key then works for a valid one
    const invalidFirst = randomUUID();
    expect((await send(h.api, alpha, { topic: 'soar.*', message: 1 }, invalidFirst)).status).toBe(400);
    expect((await send(h.api, alpha, { topic: 'soar.bravo.fixed', message: 1 }, invalidFirst)).status).toBe(202);
    expect(await outbox('alpha')).toHaveLength(2);
    await outbox('bravo');
  });

  it('does the same for POST /notify', async () => {
    const key = randomUUID();
    const replies = [];
    for (let i = 0; i < 3; i++) replies.push(await h.api.request('POST', '/notify', { token: bravo.token, json: { message: 'surface' }, headers: { 'idempotency-key': key } }));
    expect(replies.map((r) => r.status)).toEqual([202, 202, 202]);
    expect(new Set(replies.map((r) => r.body.message_id)).size).toBe(1);
    expect((await drain(admin.channel, 'bravo-broadcast')).map((m) => m.properties.messageId)).toEqual([replies[0].body.message_id]);
  });

  it('takes an idempotency_key field on WebSocket send frames', async () => {
    const ws = new WebSocket(h.api.url.replace(/^http/, 'ws') + '/stream', { headers: { authorization: `Bearer ${alpha.token}` } });
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    try {
      const key = randomUUID();
      const frame = { type: 'send', topic: 'soar.bravo.ws', message: 1, idempotency_key: key };
      ws.send(JSON.stringify({ ...frame, request_id: 'a' }));
      ws.send(JSON.stringify({ ...frame, request_id: 'b' }));
      ws.send(JSON.stringify({ ...frame, message: 2, request_id: 'c' }));
      ws.send(JSON.stringify({ ...frame, idempotency_key: 42, request_id: 'd' }));
      await eventually(async () => frames.length >= 4, 10_000, 20);
      const [a, b, c, d] = frames;
      expect(a).toMatchObject({ type: 'ack', request_id: 'a' });
      expect(b).toEqual({ ...a, request_id: 'b' });
      expect(c).toMatchObject({ type: 'error', request_id: 'c', reason: expect.stringMatching(/different request/) });
      expect(d).toMatchObject({ type: 'error', request_id: 'd', reason: expect.stringMatching(/Idempotency-Key must be/) });
      expect(await outbox('alpha')).toEqual([a['message_id']]);
    } finally {
      ws.terminate();
    }
  });

  describe('across api instances and restarts', () => {
    let other: INestApplication | undefined;
    afterEach(async () => {
      await other?.close();
      other = undefined;
    }, 30_000);

    it('answers a retry on another api instance (after this one stopped) with the first message_id', async () => {
      const key = randomUUID();
      const body = { topic: 'soar.bravo.restart', message: 'before' };
      const first = await send(h.api, alpha, body, key);
      await h.stopApp();
      other = await startApi(h.env);
      const api = new ApiClient(await baseUrl(other));
      await eventually(async () => (await api.request('GET', '/health/ready')).status === 200, 20_000, 100);
      const again = await send(api, alpha, body, key);
      expect([again.status, again.body]).toEqual([202, first.body]);
      expect(await outbox('alpha')).toEqual([first.body.message_id]);
    }, 60_000);

    it('retries a send that failed (503) under the message id the key already has, so a lost confirm cannot make two ids', async () => {
      const key = randomUUID();
      const body = { topic: 'soar.bravo.lost', message: 'once' };
      // an api whose broker is unreachable: the publish fails after the key was recorded
      const env = apiEnv(h.broker, h.db.url, { ...h.env, RABBITMQ_PORT: String(await unusedPort()) });
      other = await startApi(env);
      const down = new ApiClient(await baseUrl(other));
      await eventually(async () => (await down.request('GET', '/health/ready')).body?.checks?.database === 'up', 20_000, 100);
      expect((await send(down, alpha, body, key)).status).toBe(503);
      const sql = new Client({ connectionString: h.db.url });
      await sql.connect();
      const { rows } = await sql.query('SELECT message_id, published FROM bus_idempotency_key WHERE client_id = $1 AND idempotency_key = $2', ['alpha', key]);
      await sql.end();
      expect(rows).toEqual([{ message_id: expect.any(String), published: false }]);
      await other.close();

      other = await startApi(h.env);
      const api = new ApiClient(await baseUrl(other));
      await eventually(async () => (await api.request('GET', '/health/ready')).status === 200, 20_000, 100);
      const retry = await send(api, alpha, body, key);
      expect([retry.status, retry.body.message_id]).toEqual([202, rows[0].message_id]);
      expect(await outbox('alpha')).toEqual([rows[0].message_id]);
      expect((await send(api, alpha, body, key)).body.message_id).toBe(rows[0].message_id);
      expect(await outbox('alpha')).toEqual([]);
    }, 90_000);

    it('keeps the message id when the database fails after the publish (the commit lost), so the retry cannot make a second id', async () => {
      const key = randomUUID();
      const body = { topic: 'soar.bravo.commit', message: 'once' };
      other = await startApi(h.env);
      const api = new ApiClient(await baseUrl(other));
      await eventually(async () => (await api.request('GET', '/health/ready')).status === 200, 20_000, 100);
      const sql = new Client({ connectionString: h.db.url });
      sql.on('error', () => undefined);
      await sql.connect();
      const recorded = async () =>
        (await sql.query('SELECT message_id, published FROM bus_idempotency_key WHERE client_id = $1 AND idempotency_key = $2', ['alpha', key])).rows;
      try {
        // the database refuses the "published" mark for this key: as if it went away between the confirm and the commit
        await sql.query(`CREATE FUNCTION test_refuse_published_mark() RETURNS trigger LANGUAGE plpgsql AS $$
          BEGIN IF NEW.idempotency_key = '${key}' THEN RAISE EXCEPTION 'the database went away'; END IF; RETURN NEW; END $$`);
        await sql.query('CREATE TRIGGER test_refuse_published_mark BEFORE UPDATE ON bus_idempotency_key FOR EACH ROW EXECUTE FUNCTION test_refuse_published_mark()');
        const failed = await send(api, alpha, body, key);
        expect([failed.status, failed.headers.get('retry-after')]).toEqual([503, '1']);
        const rows = await recorded();
        expect(rows).toEqual([{ message_id: expect.any(String), published: false }]);
        expect(await outbox('alpha')).toEqual([rows[0].message_id]);
        await sql.query('DROP TRIGGER test_refuse_published_mark ON bus_idempotency_key');
        const [{ message_id: messageId }] = await recorded();
        const retry = await send(api, alpha, body, key);
        // published again under the same id: a receiver drops the second copy (receiver-dedupe.spec.ts)
        expect([retry.status, retry.body.message_id]).toEqual([202, messageId]);
        expect(await outbox('alpha')).toEqual([messageId]);
        expect(await recorded()).toEqual([{ message_id: messageId, published: true }]);
      } finally {
        await sql.query('DROP TRIGGER IF EXISTS test_refuse_published_mark ON bus_idempotency_key');
        await sql.query('DROP FUNCTION IF EXISTS test_refuse_published_mark()');
        await sql.end();
      }
    }, 60_000);

    it('answers 503 with Retry-After, never 500, while PostgreSQL cannot be reached', async () => {
      const proxy = await TcpProxy.start({ host: new URL(h.db.url).hostname, port: Number(new URL(h.db.url).port || 5432) });
      try {
        other = await startApi({ ...h.env, ...databaseEnv(proxy.route(h.db.url)) });
        const api = new ApiClient(await baseUrl(other));
        await eventually(async () => (await api.request('GET', '/health/ready')).status === 200, 20_000, 100);
        proxy.cut();
        const replies = [
          await send(api, alpha, { topic: 'soar.bravo.down', message: 1 }, randomUUID()),
          await api.request('GET', '/clients', { token: h.adminToken }),
        ];
        expect(replies.map((r) => [r.status, r.headers.get('retry-after')])).toEqual([
          [503, '1'],
          [503, '1'],
        ]);
        expect(JSON.stringify(replies.map((r) => r.body))).not.toMatch(/127\.0\.0\.1|ECONN|postgres/i);
      } finally {
        await proxy.close();
      }
    }, 60_000);
  });
});
