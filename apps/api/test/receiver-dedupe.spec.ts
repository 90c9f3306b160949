import { INestApplication } from '@nestjs/common';
import { baseUrl, eventually } from '@purple/testing';
import type { ConfirmChannel } from 'amqplib';
import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { ApiClient, ApiHarness, CreatedClient, adminChannel, createClient, deliverToInbox, startApi, startHarness } from './support';

/** Exactly once in effect for receivers (issue 11, fix 5): a copy that reaches an inbox again is never handed out. */
describe('api: receivers never see one message_id twice (real broker and database)', () => {
  let h: ApiHarness;
  let admin: { channel: ConfirmChannel; close(): Promise<void> };
  let glider: CreatedClient;
  const sockets: WebSocket[] = [];

  beforeAll(async () => {
    h = await startHarness();
    admin = await adminChannel(h.broker);
    glider = await createClient(h.api, h.adminToken, { client_id: 'glider', subscription: 'soar.glider.#' });
  }, 90_000);
  afterEach(() => sockets.splice(0).forEach((ws) => ws.terminate()));
  afterAll(async () => {
    await admin?.close();
    await h?.close();
  }, 60_000);

  const copy = (messageId: string, message: unknown = 'm') => deliverToInbox(admin.channel, 'glider', { topic: 'soar.glider.x', sender: 'ops', message, message_id: messageId });
  const receive = async (api: ApiClient = h.api) => {
    const reply = await api.request('GET', '/receive?max_messages=10', { token: glider.token });
    expect(reply.status).toBe(200);
    return (reply.body as Array<{ message_id: string }>).map((m) => m.message_id);
  };
  const inboxDepth = async () => (await admin.channel.checkQueue('glider-inbox')).messageCount;

  it('hands out the first copy of a message once, in one batch or later, and drops the others from the inbox', async () => {
    const [a, b] = [randomUUID(), randomUUID()];
    await copy(a);
    await copy(b);
    await copy(a);
    expect(await receive()).toEqual([a, b]);
    await copy(b);
    await copy(a);
    expect(await receive()).toEqual([]);
    expect(await inboxDepth()).toBe(0);
  });

  it('streams over the WebSocket without a message the client already had by /receive, and /receive after it likewise', async () => {
    const [a, b, c] = [randomUUID(), randomUUID(), randomUUID()];
    await copy(a);
    expect(await receive()).toEqual([a]);
    const ws = new WebSocket(h.api.url.replace(/^http/, 'ws') + '/stream', { headers: { authorization: `Bearer ${glider.token}` } });
    sockets.push(ws);
    const frames: Array<{ message_id: string }> = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    await copy(a);
    await copy(b);
    await copy(b);
    await copy(c);
    await eventually(async () => frames.length >= 2 && (await inboxDepth()) === 0, 10_000, 50);
    expect(frames.map((f) => f.message_id)).toEqual([b, c]);
    ws.close();
    await copy(c);
    expect(await receive()).toEqual([]);
  });

  it('holds across api instances: what one handed out, the next one drops', async () => {
    const a = randomUUID();
    await copy(a);
    expect(await receive()).toEqual([a]);
    await copy(a);
    await h.stopApp();
    let other: INestApplication | undefined;
    try {
      other = await startApi(h.env);
      const api = new ApiClient(await baseUrl(other));
      await eventually(async () => (await api.request('GET', '/health/ready')).status === 200, 20_000, 100);
      expect(await receive(api)).toEqual([]);
      expect(await inboxDepth()).toBe(0);
    } finally {
      await other?.close();
    }
  }, 60_000);
});
