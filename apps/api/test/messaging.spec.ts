import { INestApplication } from '@nestjs/common';
import { signAccessToken } from '@purple/auth';
import { REJECTION_REASON_HEADER } from '@purple/messaging';
import { baseUrl, closeConnectionsOf, eventually, expectedRole } from '@purple/testing';
import { InboxReader } from '../src/broker/inbox-reader';
import { SOAR_EXCHANGES } from '@purple/topology';
import type { ConfirmChannel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import { connect } from 'node:net';
import { Client } from 'pg';
import {
  ApiClient,
  ApiHarness,
  CreatedClient,
  TEST_MAX_BODY_BYTES,
  adminChannel,
  apiEnv,
  unusedPort,
  createClient,
  deliverToInbox,
  drain,
  startApi,
  startHarness,
} from './support';

describe('api: send, notify, receive and dead letters (real broker and database)', () => {
  let h: ApiHarness;
  let admin: { channel: ConfirmChannel; close(): Promise<void> };
  let c2: CreatedClient;
  let sfmc: CreatedClient;
  let ops: CreatedClient;

  beforeAll(async () => {
    h = await startHarness();
    admin = await adminChannel(h.broker);
    [c2, sfmc, ops] = await Promise.all([
      createClient(h.api, h.adminToken, { client_id: 'noc-c2', subscription: 'soar.noc.#' }),
      createClient(h.api, h.adminToken, { client_id: 'noc-sfmc', subscription: 'soar.noc.slocum.*' }),
      createClient(h.api, h.adminToken, { client_id: 'ops', subscription: 'soar.ops.#' }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await admin?.close();
    await h?.close();
  }, 60_000);

  const receive = (client: CreatedClient, query = '') => h.api.request('GET', `/receive${query}`, { token: client.token });

  describe('delivery into inboxes, read with GET /receive', () => {
    it('routes a topic to exactly the inboxes whose subscription matches, and a broadcast to all', async () => {
      // what the bus-router does: publish the envelope by its topic, or broadcast it
      const envelope = (topic: string, message: unknown) => ({ message_id: randomUUID(), topic, sender: 'ops', sent_at: new Date().toISOString(), message });
      const slocum = envelope('soar.noc.slocum.something', { depth: 12 });
      const glider = envelope('soar.noc.glider.position', { lat: 1 });
      const everyone = envelope('broadcast', { text: 'surface' });
      admin.channel.publish(SOAR_EXCHANGES.publish, slocum.topic, Buffer.from(JSON.stringify(slocum)), { persistent: true });
      admin.channel.publish(SOAR_EXCHANGES.publish, glider.topic, Buffer.from(JSON.stringify(glider)), { persistent: true });
      admin.channel.publish(SOAR_EXCHANGES.broadcast, '', Buffer.from(JSON.stringify(everyone)), { persistent: true });
      await admin.channel.waitForConfirms();

      expect((await receive(c2)).body).toEqual([slocum, glider, everyone]);
      expect((await receive(sfmc)).body).toEqual([slocum, everyone]);
      expect((await receive(ops)).body).toEqual([everyone]);
      // taken and acked: gone
      for (const client of [c2, sfmc, ops]) expect((await receive(client)).body).toEqual([]);
    });

    it('returns at most max_messages, oldest first, and leaves the rest', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) ids.push(await deliverToInbox(admin.channel, 'ops', { topic: 'soar.ops.count', sender: 'noc-c2', message: i }));
      const first = await receive(ops, '?max_messages=2');
      expect(first.status).toBe(200);
      expect(first.body.map((m: { message_id: string }) => m.message_id)).toEqual(ids.slice(0, 2));
      expect(first.body[0]).toEqual({ message_id: ids[0], topic: 'soar.ops.count', sender: 'noc-c2', sent_at: expect.any(String), message: 0 });
      const rest = await receive(ops, '?max_messages=10');
      expect(rest.body.map((m: { message_id: string }) => m.message_id)).toEqual(ids.slice(2));
    });

    it('waits up to wait_seconds for the first message', async () => {
      const pending = receive(sfmc, '?wait_seconds=10');
      await new Promise((r) => setTimeout(r, 300));
      const id = await deliverToInbox(admin.channel, 'noc-sfmc', { topic: 'soar.noc.slocum.late', sender: 'ops', message: 'late' });
      const reply = await pending;
      expect(reply.status).toBe(200);
      expect(reply.body.map((m: { message_id: string }) => m.message_id)).toEqual([id]);
      expect((await receive(sfmc, '?wait_seconds=1')).body).toEqual([]);
    });

    it('dead-letters a message that is not a valid envelope instead of handing it out', async () => {
      admin.channel.publish(SOAR_EXCHANGES.direct, 'ops', Buffer.from('{"not":"an envelope"}'), { persistent: true, messageId: 'broken-1' });
      await admin.channel.waitForConfirms();
      const good = await deliverToInbox(admin.channel, 'ops', { topic: 'soar.ops.ok', sender: 'noc-c2', message: 'ok' });
      expect((await receive(ops)).body.map((m: { message_id: string }) => m.message_id)).toEqual([good]);
      const dead = await eventually(async () => {
        const reply = await h.api.request('GET', '/clients/ops/dead-letters', { token: ops.token });
        return reply.body.length === 1 ? reply.body : null;
      });
      expect(dead[0]).toMatchObject({ message_id: 'broken-1', reason: 'rejected', queue: 'ops-inbox', count: 1, body: { not: 'an envelope' } });
      await drain(admin.channel, 'ops-dlq');
    });
  });

  it('answers 503 with the reason, not 500, when a client’s queue has gone missing on the broker', async () => {
    const orphan = await createClient(h.api, h.adminToken, { client_id: 'orphan', subscription: 'soar.orphan.#' });
    const management = h.broker.management('caldera_admin');
    for (const queue of ['orphan-inbox', 'orphan-dlq']) await management.deleteQueue(h.broker.vhost('/soar'), queue);
    const receiving = await receive(orphan);
    expect(receiving.status).toBe(503);
    expect(receiving.body.message).toMatch(/^cannot read the inbox of orphan: .*NOT_FOUND/);
    const listing = await h.api.request('GET', '/clients/orphan/dead-letters', { token: orphan.token });
    expect(listing.status).toBe(503);
    expect(listing.body.message).toMatch(/^cannot read the dead letters of orphan/);
  });

  describe('acknowledgement only once the response is written', () => {
    it('leaves the messages in the inbox when the caller never reads the response', async () => {
      // big enough that the response cannot fit into the socket buffers of a reader that has stopped reading
      const ids: string[] = [];
      for (let i = 0; i < 16; i++) {
        ids.push(await deliverToInbox(admin.channel, 'noc-c2', { topic: 'soar.noc.big', sender: 'ops', message: 'x'.repeat(512 * 1024) }));
      }
      const { port } = new URL(h.api.url);
      const socket = connect(Number(port), '127.0.0.1');
      socket.pause(); // read nothing
      await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
      socket.write(`GET /receive?max_messages=16 HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${c2.token}\r\n\r\n`);
      // the api has taken the messages once the inbox shows them unacked
      await eventually(async () => {
        const queue = await h.broker.management().getQueue(h.broker.vhost('/soar'), 'noc-c2-inbox');
        return queue?.['messages_unacknowledged'] === 16;
      }, 15_000, 200);
      socket.destroy();

      const again = await eventually(async () => {
        const reply = await receive(c2, '?max_messages=20');
        return reply.body.length > 0 ? reply : null;
      });
      // all of them, each once (a requeue does not keep their order: receivers dedupe on message_id)
      expect(again.body.map((m: { message_id: string }) => m.message_id).sort()).toEqual([...ids].sort());
    }, 60_000);

    it('takes nothing when the caller gives up while waiting', async () => {
      const controller = new AbortController();
      const waiting = fetch(`${h.api.url}/receive?wait_seconds=10`, { headers: { authorization: `Bearer ${sfmc.token}` }, signal: controller.signal }).catch(
        (error: Error) => error.name,
      );
      await new Promise((r) => setTimeout(r, 300));
      controller.abort();
      expect(await waiting).toBe('AbortError');
      await new Promise((r) => setTimeout(r, 300));
      const id = await deliverToInbox(admin.channel, 'noc-sfmc', { topic: 'soar.noc.slocum.after', sender: 'ops', message: 1 });
      expect((await receive(sfmc)).body.map((m: { message_id: string }) => m.message_id)).toEqual([id]);
    });
  });

  describe('an inbox read whose broker connection closes before it is settled', () => {
    it('settles without throwing, and the message goes back to the inbox for the next read', async () => {
      const inbox = 'ops-inbox';
      const id = await deliverToInbox(admin.channel, 'ops', { topic: 'soar.ops.connection-lost', sender: 'noc-c2', message: 1 });
      const reader = h.app.get(InboxReader);
      const batch = await reader.take('ops', { maxMessages: 10, waitMs: 0 });
      expect(batch.messages.map((m) => m.properties.messageId)).toEqual([id]);

      expect(await closeConnectionsOf(h.broker, expectedRole('api', h.broker).user)).toBeGreaterThan(0);
      // its channel is gone with the connection: the broker has put the message back
      await eventually(async () => (await admin.channel.checkQueue(inbox)).messageCount === 1, 15_000);
      await expect(batch.settle(true)).resolves.toBeUndefined();

      // the next read, once the api has reconnected, gets it again and acks it
      const again = await eventually(async () => {
        const next = await reader.take('ops', { maxMessages: 10, waitMs: 0 }).catch(() => null);
        if (next && next.messages.length === 0) await next.settle(false);
        return next && next.messages.length > 0 ? next : null;
      }, 20_000);
      expect(again.messages.map((m) => [m.properties.messageId, m.fields.redelivered])).toEqual([[id, true]]);
      await again.settle(true);
      expect((await admin.channel.checkQueue(inbox)).messageCount).toBe(0);
      await eventually(async () => (await h.api.request('GET', '/health/ready')).status === 200, 20_000);
    }, 60_000);
  });

  describe('POST /send and POST /notify', () => {
    it("publishes sends into the sender's outbox, in order, with the topic, and answers 202 with the message id", async () => {
      const ids: string[] = [];
      for (let i = 0; i < 5; i++) {
        const reply = await h.api.request('POST', '/send', { token: sfmc.token, json: { topic: 'soar.noc.slocum.position', message: { seq: i } } });
        expect(reply.status).toBe(202);
        ids.push(reply.body.message_id);
      }
      const outbox = await drain(admin.channel, 'noc-sfmc-outbox');
      expect(outbox.map((m) => m.properties.messageId)).toEqual(ids);
      expect(outbox.map((m) => JSON.parse(m.content.toString()))).toEqual([0, 1, 2, 3, 4].map((seq) => ({ topic: 'soar.noc.slocum.position', message: { seq } })));
      expect(outbox.every((m) => m.properties.deliveryMode === 2 && m.fields.routingKey === 'noc-sfmc')).toBe(true);
      expect(await drain(admin.channel, 'noc-c2-outbox')).toEqual([]);
    });

    it("publishes a notify into the sender's broadcast queue", async () => {
      const reply = await h.api.request('POST', '/notify', { token: ops.token, json: { message: 'all surface' } });
      expect(reply.status).toBe(202);
      const queued = await drain(admin.channel, 'ops-broadcast');
      expect(queued.map((m) => [m.properties.messageId, JSON.parse(m.content.toString())])).toEqual([[reply.body.message_id, { message: 'all surface' }]]);
    });

    it('answers bad input with 400 and a reason, never a 5xx', async () => {
      const send = (json: unknown) => h.api.request('POST', '/send', { token: c2.token, json });
      const cases: Array<[unknown, RegExp]> = [
        [{ topic: 'soar.noc.*', message: 1 }, /topic must be a topic/],
        [{ topic: 'soar.#', message: 1 }, /topic must be a topic/],
        [{ topic: 'soar..noc', message: 1 }, /topic must be a topic/],
        [{ topic: 'soar noc', message: 1 }, /topic must be a topic/],
        [{ topic: 'a'.repeat(256), message: 1 }, /at most 255 bytes/],
        [{ topic: 5, message: 1 }, /topic must be a topic/],
        [{ message: 1 }, /topic is required/],
        [{ topic: 'soar.noc.x' }, /message is required/],
        [[{ topic: 'soar.noc.x', message: 1 }], /payload must be a JSON object, got an array/],
      ];
      for (const [body, reason] of cases) {
        const reply = await send(body);
        expect({ body, status: reply.status }).toEqual({ body, status: 400 });
        expect(JSON.stringify(reply.body.message)).toMatch(reason);
      }
      const notify = await h.api.request('POST', '/notify', { token: c2.token, json: { text: 'no message field' } });
      expect(notify.status).toBe(400);
      expect(notify.body.message).toEqual(['message is required']);

      const broken = await h.api.request('POST', '/send', { token: c2.token, body: '{"topic": "soar.x", ', headers: { 'content-type': 'application/json' } });
      expect(broken.status).toBe(400);
      expect(broken.body.message).toMatch(/not valid JSON/);
      const text = await h.api.request('POST', '/send', { token: c2.token, body: 'hello', headers: { 'content-type': 'text/plain' } });
      expect(text.status).toBe(400);
      expect(text.body.message).toEqual(['the body must be a JSON object (Content-Type: application/json)']);

      for (const query of ['?max_messages=0', '?max_messages=101', '?max_messages=ten', '?wait_seconds=21', '?wait_seconds=-1', '?other=1']) {
        const reply = await receive(c2, query);
        expect({ query, status: reply.status }).toEqual({ query, status: 400 });
      }
      expect(await drain(admin.channel, 'noc-c2-outbox')).toEqual([]);
    });

    it('refuses a body over MAX_BODY_BYTES with a 413 JSON answer', async () => {
      const reply = await h.api.request('POST', '/send', { token: c2.token, json: { topic: 'soar.noc.big', message: 'x'.repeat(TEST_MAX_BODY_BYTES) } });
      expect(reply.status).toBe(413);
      expect(reply.headers.get('content-type')).toMatch(/application\/json/);
      expect(reply.body).toEqual({ statusCode: 413, error: 'Payload Too Large', message: `the request body is larger than the limit of ${TEST_MAX_BODY_BYTES} bytes` });
      expect(await drain(admin.channel, 'noc-c2-outbox')).toEqual([]);
    });
  });

  describe("a client's dead letters", () => {
    it('lists them (peek) and replays them into the inbox; only the admin or the client itself', async () => {
      // what the bus-router does after the last failed webhook attempt
      const id = randomUUID();
      const envelope = { message_id: id, topic: 'soar.noc.slocum.alarm', sender: 'ops', sent_at: new Date().toISOString(), message: { alarm: true } };
      admin.channel.publish(SOAR_EXCHANGES.dlx, 'noc-sfmc', Buffer.from(JSON.stringify(envelope)), {
        persistent: true,
        messageId: id,
        headers: { [REJECTION_REASON_HEADER]: 'webhook answered 500 after 5 attempts', 'x-original-queue': 'noc-sfmc-inbox' },
      });
      await admin.channel.waitForConfirms();

      const listed = await h.api.request('GET', '/clients/noc-sfmc/dead-letters', { token: sfmc.token });
      expect(listed.status).toBe(200);
      expect(listed.body).toEqual([
        { message_id: id, reason: 'webhook answered 500 after 5 attempts', queue: 'noc-sfmc-inbox', dead_lettered_at: null, count: 0, body: envelope },
      ]);
      // a peek leaves them where they are
      expect((await h.api.request('GET', '/clients/noc-sfmc/dead-letters', { token: h.adminToken })).body).toHaveLength(1);
      expect((await h.api.request('GET', '/clients/noc-sfmc/dead-letters', { token: ops.token })).status).toBe(403);
      expect((await h.api.request('POST', '/clients/noc-sfmc/dead-letters/replay', { token: ops.token })).status).toBe(403);
      expect((await h.api.request('GET', '/clients/nobody/dead-letters', { token: h.adminToken })).status).toBe(404);

      const replayed = await h.api.request('POST', '/clients/noc-sfmc/dead-letters/replay', { token: sfmc.token });
      expect(replayed.status).toBe(200);
      expect(replayed.body).toEqual({ replayed: 1 });
      expect((await h.api.request('GET', '/clients/noc-sfmc/dead-letters', { token: sfmc.token })).body).toEqual([]);
      expect((await receive(sfmc)).body).toEqual([envelope]);
    });
  });

  // last: it replaces the api with one that cannot reach the broker (same database and namespace)
  describe('with the broker unreachable, a 2 s token lifetime and a per-address login limit', () => {
    let down: INestApplication;
    let downApi: ApiClient;
    beforeAll(async () => {
      await h.stopApp();
      const env = apiEnv(h.broker, h.db.url, {
        ...pick(h.env, ['TOKEN_SIGNING_KEY', 'ADMIN_CLIENT_ID', 'ADMIN_CLIENT_SECRET', 'WEBHOOK_SECRET_KEY']),
        RABBITMQ_PORT: String(await unusedPort()),
        TOKEN_TTL_SECONDS: '2',
        LOGIN_MAX_FAILURES_PER_IP: '3',
      });
      down = await startApi(env);
      downApi = new ApiClient(await baseUrl(down));
      // ready for the database only: the broker stays unreachable
      await eventually(async () => (await downApi.request('GET', '/health/ready')).body?.checks?.database === 'up', 20_000, 100);
    }, 60_000);
    afterAll(() => down?.close(), 30_000);

    it('answers send, notify and receive with 503 at once, queueing nothing', async () => {
      const token = await downApi.token(c2.id, c2.secret);
      const send = await downApi.request('POST', '/send', { token, json: { topic: 'soar.noc.down', message: 1 } });
      expect(send.status).toBe(503);
      expect(send.body.message).toMatch(/broker unavailable/);
      expect((await downApi.request('POST', '/notify', { token, json: { message: 1 } })).status).toBe(503);
      expect((await downApi.request('GET', '/receive?wait_seconds=5', { token })).status).toBe(503);
      expect(await drain(admin.channel, 'noc-c2-outbox')).toEqual([]);
    });

    it('issues tokens that expire after TOKEN_TTL_SECONDS, refused with 401 once expired', async () => {
      const reply = await downApi.request('POST', '/token', { json: { grant_type: 'client_credentials', client_id: c2.id, client_secret: c2.secret } });
      expect(reply.body.expires_in).toBe(2);
      const token = reply.body.access_token as string;
      // a client reading its own record needs only the database
      expect((await downApi.request('GET', `/clients/${c2.id}`, { token })).status).toBe(200);
      await new Promise((r) => setTimeout(r, 3100));
      const expired = await downApi.request('GET', `/clients/${c2.id}`, { token });
      expect(expired.status).toBe(401);
      expect(expired.body.message).toBe('the token has expired');
      expect(expired.headers.get('www-authenticate')).toBe('Bearer realm="purple", error="invalid_token", error_description="the token has expired"');
      // and one crafted with a past expiry, to the second
      const past = signAccessToken({ clientId: c2.id, scope: 'bus', tokenVersion: 1, incarnation: randomUUID(), ttlSeconds: -1 }, h.env['TOKEN_SIGNING_KEY']).token;
      expect((await downApi.request('GET', `/clients/${c2.id}`, { token: past })).status).toBe(401);
    });

    it('locks out an address after too many failed logins, whichever client ids it tries', async () => {
      // failures are kept in PostgreSQL, shared by every api: start from none, whatever the first api counted
      const db = new Client({ connectionString: h.db.url });
      await db.connect();
      await db.query('DELETE FROM login_failure').finally(() => db.end());
      for (const id of ['guess-a', 'guess-b', 'guess-c']) {
        expect((await downApi.request('POST', '/token', { json: { grant_type: 'client_credentials', client_id: id, client_secret: 'x' } })).status).toBe(401);
      }
      const locked = await downApi.request('POST', '/token', { json: { grant_type: 'client_credentials', client_id: c2.id, client_secret: c2.secret } });
      expect(locked.status).toBe(429);
      expect(Number(locked.headers.get('retry-after'))).toBeGreaterThan(0);
    });
  });
});

const pick = (source: Record<string, string>, keys: string[]) => Object.fromEntries(keys.map((k) => [k, source[k]]));
