import type { ConfirmChannel } from 'amqplib';
import { eventually } from '@purple/testing';
import WebSocket from 'ws';
import { ApiHarness, CreatedClient, adminChannel, createClient, drain, startHarness } from './support';

/** Per-client send quotas (issue 12, item 2): 429 with Retry-After before the broker has to refuse. */
describe('api: per-client send quota (real broker and database)', () => {
  let h: ApiHarness;
  let admin: { channel: ConfirmChannel; close(): Promise<void> };
  let fast: CreatedClient;
  let calm: CreatedClient;

  beforeAll(async () => {
    h = await startHarness({ SEND_RATE_PER_SECOND: '2' });
    admin = await adminChannel(h.broker);
    [fast, calm] = await Promise.all([
      createClient(h.api, h.adminToken, { client_id: 'fast', subscription: 'soar.fast.#' }),
      createClient(h.api, h.adminToken, { client_id: 'calm', subscription: 'soar.calm.#' }),
    ]);
  }, 90_000);
  afterAll(async () => {
    await admin?.close();
    await h?.close();
  }, 60_000);

  it('answers 429 with Retry-After past the rate, queues only what it accepted, and leaves other clients alone', async () => {
    const replies = await Promise.all(Array.from({ length: 15 }, (_, i) => h.api.request('POST', '/notify', { token: fast.token, json: { message: i } })));
    const accepted = replies.filter((r) => r.status === 202);
    const refused = replies.filter((r) => r.status === 429);
    expect(accepted.length + refused.length).toBe(15);
    expect(accepted.length).toBeGreaterThanOrEqual(2);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) {
      expect(Number(r.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
      expect(r.body.message).toMatch(/^send quota exceeded \(more than 2 messages per second\): retry in \d+ s$/);
    }
    // another client's quota is its own
    expect((await h.api.request('POST', '/send', { token: calm.token, json: { topic: 'soar.fast.x', message: 1 } })).status).toBe(202);
    expect((await drain(admin.channel, 'fast-broadcast')).map((m) => m.properties.messageId).sort()).toEqual(accepted.map((r) => r.body.message_id).sort());
    await drain(admin.channel, 'calm-outbox');

    // after Retry-After, sending works again
    const wait = Number(refused[0].headers.get('retry-after'));
    await eventually(async () => (await h.api.request('POST', '/notify', { token: fast.token, json: { message: 'later' } })).status === 202, (wait + 2) * 1000, 250);
    await drain(admin.channel, 'fast-broadcast');
  });

  it('refuses WebSocket frames past the rate with an error frame', async () => {
    const ws = new WebSocket(h.api.url.replace(/^http/, 'ws') + '/stream', { headers: { authorization: `Bearer ${fast.token}` } });
    const frames: Array<Record<string, unknown>> = [];
    ws.on('message', (data) => frames.push(JSON.parse(data.toString())));
    await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
    try {
      for (let i = 0; i < 12; i++) ws.send(JSON.stringify({ type: 'notify', message: i, request_id: String(i) }));
      await eventually(async () => frames.length >= 12, 10_000, 20);
      const errors = frames.filter((f) => f['type'] === 'error');
      expect(errors.length).toBeGreaterThanOrEqual(1);
      expect(errors[0]['reason']).toMatch(/^send quota exceeded/);
      const acked = frames.filter((f) => f['type'] === 'ack').map((f) => f['message_id']);
      expect((await drain(admin.channel, 'fast-broadcast')).map((m) => m.properties.messageId)).toEqual(acked);
    } finally {
      ws.terminate();
    }
  });
});
