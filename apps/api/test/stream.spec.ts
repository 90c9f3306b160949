import { eventually } from '@purple/testing';
import { SOAR_VHOST } from '@purple/topology';
import type { ConfirmChannel } from 'amqplib';
import { randomBytes } from 'node:crypto';
import { connect } from 'node:net';
import WebSocket from 'ws';
import { ApiHarness, CreatedClient, adminChannel, createClient, deliverToInbox, drain, startHarness } from './support';

/** Frames a socket receives, read in order from a cursor. */
class FrameLog {
  readonly frames: Array<Record<string, unknown>> = [];
  private read = 0;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data) => this.frames.push(JSON.parse(data.toString())));
  }
  /** the next `count` frames not read yet, waiting for them if need be */
  async next(count = 1): Promise<Array<Record<string, unknown>>> {
    await eventually(async () => this.frames.length >= this.read + count, 10_000, 20);
    this.read += count;
    return this.frames.slice(this.read - count, this.read);
  }
  async exchange(frame: unknown): Promise<Record<string, unknown>> {
    this.ws.send(typeof frame === 'string' ? frame : JSON.stringify(frame));
    return (await this.next())[0];
  }
}

describe('api: the WebSocket stream at /stream (real broker and database)', () => {
  let h: ApiHarness;
  let admin: { channel: ConfirmChannel; close(): Promise<void> };
  let glider: CreatedClient;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    h = await startHarness({ STREAM_MAX_PER_CLIENT: '2', RECEIVE_MAX_CONCURRENT_PER_CLIENT: '2', STREAM_TOKEN_RECHECK_MS: '500' });
    admin = await adminChannel(h.broker);
    glider = await createClient(h.api, h.adminToken, { client_id: 'glider', subscription: 'soar.glider.#' });
  }, 90_000);
  afterEach(() => {
    // a failed test must not leave a consumer behind to take the next test's messages
    sockets.splice(0).forEach((ws) => ws.terminate());
  });
  afterAll(async () => {
    await admin?.close();
    await h?.close();
  }, 60_000);

  const wsUrl = () => h.api.url.replace(/^http/, 'ws') + '/stream';
  function open(options: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<{ ws: WebSocket; log: FrameLog }> {
    const ws = new WebSocket(wsUrl(), protocols, options);
    sockets.push(ws);
    const log = new FrameLog(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve({ ws, log }));
      ws.once('error', reject);
    });
  }
  /** the HTTP answer to a refused handshake */
  function refused(url: string, options: WebSocket.ClientOptions = {}): Promise<{ status: number; body: { message: string }; headers: Record<string, unknown> }> {
    const ws = new WebSocket(url, options);
    sockets.push(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => reject(new Error('the handshake was accepted')));
      ws.once('unexpected-response', (_req, res) => {
        let text = '';
        res.on('data', (chunk: Buffer) => (text += chunk.toString()));
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text), headers: res.headers }));
      });
      ws.once('error', () => undefined);
    });
  }
  const bearer = (token: string) => ({ headers: { authorization: `Bearer ${token}` } });

  it('streams the inbox as messages arrive, in order, and acks what it has sent', async () => {
    const { ws, log } = await open(bearer(glider.token));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await deliverToInbox(admin.channel, 'glider', { topic: 'soar.glider.depth', sender: 'ops', message: { depth: i } }));
    const frames = await log.next(3);
    expect(frames).toEqual(
      ids.map((id, i) => ({ type: 'message', message_id: id, topic: 'soar.glider.depth', sender: 'ops', sent_at: expect.any(String), message: { depth: i } })),
    );
    ws.close();
    await new Promise((r) => ws.once('close', r));
    // acked: nothing comes back to the inbox
    expect((await h.api.request('GET', '/receive', { token: glider.token })).body).toEqual([]);
  });

  it('stops taking messages when the socket closes: later ones stay in the inbox', async () => {
    const { ws } = await open(bearer(glider.token));
    ws.close();
    await new Promise((r) => ws.once('close', r));
    await new Promise((r) => setTimeout(r, 200));
    const id = await deliverToInbox(admin.channel, 'glider', { topic: 'soar.glider.after', sender: 'ops', message: 1 });
    expect((await h.api.request('GET', '/receive', { token: glider.token })).body.map((m: { message_id: string }) => m.message_id)).toEqual([id]);
  });

  it('returns what it could not hand over to the inbox when the connection drops', async () => {
    // bigger than the socket buffers between a reader that has stopped reading and the api: ws.send cannot finish
    const ids: string[] = [];
    for (let i = 0; i < 2; i++) ids.push(await deliverToInbox(admin.channel, 'glider', { topic: 'soar.glider.bulk', sender: 'ops', message: 'x'.repeat(6 * 1024 * 1024) }));
    const { port } = new URL(h.api.url);
    const socket = connect(Number(port), '127.0.0.1');
    socket.pause();
    await new Promise<void>((resolve) => socket.once('connect', () => resolve()));
    socket.write(
      'GET /stream HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
        `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nAuthorization: Bearer ${glider.token}\r\n\r\n`,
    );
    await eventually(async () => (await h.broker.management().getQueue(h.broker.vhost('/soar'), 'glider-inbox'))?.['messages_unacknowledged'] === 2, 15_000, 200);
    socket.destroy();
    const back = await eventually(async () => {
      const reply = await h.api.request('GET', '/receive?max_messages=10', { token: glider.token });
      return reply.body.length > 0 ? reply.body : null;
    });
    expect(back.map((m: { message_id: string }) => m.message_id).sort()).toEqual([...ids].sort());
  }, 60_000);

  it('authenticates a browser with the "bearer, <token>" subprotocol, answering only "bearer"', async () => {
    const { ws, log } = await open({}, ['bearer', glider.token]);
    expect(ws.protocol).toBe('bearer');
    const id = await deliverToInbox(admin.channel, 'glider', { topic: 'soar.glider.browser', sender: 'ops', message: 'hi' });
    expect((await log.next())[0]).toMatchObject({ type: 'message', message_id: id });
    ws.close();
  });

  it('accepts send and notify frames, answering ack with the message id, in order', async () => {
    const { ws, log } = await open(bearer(glider.token));
    const frames = [
      { type: 'send', topic: 'soar.glider.position', message: { seq: 1 }, request_id: 'a' },
      { type: 'send', topic: 'soar.glider.position', message: { seq: 2 }, request_id: 'b' },
      { type: 'notify', message: 'surfacing', request_id: 'c' },
    ];
    const acks = log.next(3);
    frames.forEach((frame) => ws.send(JSON.stringify(frame)));
    const [a, b, c] = await acks;
    expect([a, b, c].map((ack) => [ack['type'], ack['request_id']])).toEqual([['ack', 'a'], ['ack', 'b'], ['ack', 'c']]);

    const outbox = await drain(admin.channel, 'glider-outbox');
    expect(outbox.map((m) => [m.properties.messageId, JSON.parse(m.content.toString())])).toEqual([
      [a['message_id'], { topic: 'soar.glider.position', message: { seq: 1 } }],
      [b['message_id'], { topic: 'soar.glider.position', message: { seq: 2 } }],
    ]);
    const broadcast = await drain(admin.channel, 'glider-broadcast');
    expect(broadcast.map((m) => [m.properties.messageId, JSON.parse(m.content.toString())])).toEqual([[c['message_id'], { message: 'surfacing' }]]);
    ws.close();
  });

  it('answers bad frames with an error and a reason, and stays open', async () => {
    const { ws, log } = await open(bearer(glider.token));
    expect(await log.exchange('not json')).toEqual({ type: 'error', reason: expect.stringMatching(/a frame must be a JSON object/) });
    expect(await log.exchange({ type: 'send', topic: 'soar.*', message: 1, request_id: 'x' })).toEqual({
      type: 'error',
      reason: expect.stringMatching(/^topic must be a topic/),
      request_id: 'x',
    });
    expect(await log.exchange({ type: 'send', topic: 'soar.glider.x' })).toEqual({ type: 'error', reason: 'message is required' });
    expect(await log.exchange({ type: 'subscribe', topic: '#' })).toEqual({ type: 'error', reason: 'unknown frame type "subscribe": use send or notify' });
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(await drain(admin.channel, 'glider-outbox')).toEqual([]);
    ws.close();
  });

  it('refuses the handshake with an HTTP answer: 401 without or with a bad token, 400 for a token in the query, 403 without the bus scope', async () => {
    const none = await refused(wsUrl());
    expect(none.status).toBe(401);
    expect(none.headers['www-authenticate']).toBe('Bearer realm="purple"');
    expect(none.body.message).toMatch(/bearer token is required/);

    const bad = await refused(wsUrl(), bearer('garbage'));
    expect(bad.status).toBe(401);
    expect(bad.body.message).toBe('the token is not a JWT');

    const inQuery = await refused(`${wsUrl()}?access_token=${glider.token}`);
    expect(inQuery.status).toBe(400);
    expect(inQuery.body.message).toMatch(/must not be sent in the query string/);

    const adminOnly = await refused(wsUrl(), bearer(h.adminToken));
    expect(adminOnly.status).toBe(403);

    const elsewhere = await refused(h.api.url.replace(/^http/, 'ws') + '/other', bearer(glider.token));
    expect(elsewhere.status).toBe(404);
  });

  it('closes the stream of a client that is deleted, and its token no longer opens one', async () => {
    const doomed = await createClient(h.api, h.adminToken, { client_id: 'doomed', subscription: 'soar.doomed.#' });
    const { ws, log } = await open(bearer(doomed.token));
    const closed = new Promise<[number, string]>((resolve) => ws.once('close', (code, reason) => resolve([code, reason.toString()])));
    expect((await h.api.request('DELETE', '/clients/doomed', { token: h.adminToken })).status).toBe(204);
    expect(await closed).toEqual([1008, 'the inbox no longer exists']);
    expect(log.frames).toEqual([]);
    expect((await refused(wsUrl(), bearer(doomed.token))).status).toBe(401);
  });

  /** the close code and reason, or 'open' when the socket is still open after `ms` */
  const closedWithin = (ws: WebSocket, ms: number) =>
    new Promise<[number, string] | 'open'>((resolve) => {
      const timer = setTimeout(() => resolve('open'), ms);
      ws.once('close', (code, reason) => {
        clearTimeout(timer);
        resolve([code, reason.toString()]);
      });
    });

  it('closes an idle stream within seconds of a secret rotation, without waiting for a frame (issue 12 #6)', async () => {
    const rotated = await createClient(h.api, h.adminToken, { client_id: 'rotated', subscription: 'soar.rotated.#' });
    const { ws } = await open(bearer(rotated.token));
    const closed = closedWithin(ws, 10_000);
    expect((await h.api.request('POST', '/clients/rotated/secret', { token: h.adminToken })).status).toBe(200);
    expect(await closed).toEqual([1008, 'the token has been revoked']);
  });

  it('holds at most STREAM_MAX_PER_CLIENT streams per client, and gives the slot back on close (issue 12 #8)', async () => {
    const greedy = await createClient(h.api, h.adminToken, { client_id: 'greedy', subscription: 'soar.greedy.#' });
    const first = await open(bearer(greedy.token));
    await open(bearer(greedy.token));
    const third = await refused(wsUrl(), bearer(greedy.token));
    expect(third.status).toBe(429);
    expect(third.body.message).toMatch(/too many open streams for client greedy \(at most 2\)/);
    // another client is not affected
    await open(bearer(glider.token));
    first.ws.close();
    await eventually(async () => (await open(bearer(greedy.token)).catch(() => null)) !== null, 10_000, 100);
  });

  it('holds at most RECEIVE_MAX_CONCURRENT_PER_CLIENT reads (long-polls) per client (issue 12 #8)', async () => {
    const poller = await createClient(h.api, h.adminToken, { client_id: 'poller', subscription: 'soar.poller.#' });
    const aborts = [new AbortController(), new AbortController()];
    const polls = aborts.map((abort) =>
      fetch(`${h.api.url}/receive?wait_seconds=20`, { headers: { authorization: `Bearer ${poller.token}` }, signal: abort.signal }).catch(() => undefined),
    );
    try {
      // both long-polls wait on the inbox (a consumer each) before the third asks: probing earlier could race them
      await eventually(async () => (await h.broker.management().getQueue(h.broker.vhost(SOAR_VHOST), 'poller-inbox'))?.['consumers'] === 2, 20_000, 250);
      const third = await h.api.request('GET', '/receive', { token: poller.token });
      expect(third.status).toBe(429);
      expect(third.body.message).toMatch(/too many concurrent reads of the inbox for client poller \(at most 2\)/);
      expect((await h.api.request('GET', '/receive', { token: glider.token })).status).toBe(200);
    } finally {
      aborts.forEach((abort) => abort.abort());
      await Promise.all(polls);
    }
    // the aborted long-polls give their slots back
    await eventually(async () => (await h.api.request('GET', '/receive', { token: poller.token })).status === 200, 10_000, 100);
  });
});
