import type { ConfirmChannel } from 'amqplib';
import { eventually } from '@purple/testing';
import { SOAR_VHOST } from '@purple/topology';
import { ApiHarness, CreatedClient, adminChannel, createClient, drain, startHarness } from './support';

/**
 * Backpressure (issue 11, found by the backpressure fault suite): a send into a full outbox (max-length with
 * `reject-publish`, the broker nacks) answers 503 with Retry-After and a reason, so the client backs off; nothing
 * refused is queued, and sending works again once the queue drained. The limit is lowered for this client's outbox
 * alone with an operator policy in the test's own vhost, as an operator would.
 */
describe('api: a full outbox (real broker and database)', () => {
  let h: ApiHarness;
  let admin: { channel: ConfirmChannel; close(): Promise<void> };
  let full: CreatedClient;

  beforeAll(async () => {
    h = await startHarness();
    admin = await adminChannel(h.broker);
    full = await createClient(h.api, h.adminToken, { client_id: 'full', subscription: 'soar.full.#' });
    const vhost = encodeURIComponent(h.broker.vhost(SOAR_VHOST));
    await h.broker.management().put(`/api/operator-policies/${vhost}/full-outbox-small`, {
      pattern: '^full-outbox$',
      'apply-to': 'queues',
      priority: 0,
      definition: { 'max-length': 3 },
    });
    await eventually(async () => (await h.broker.management().get<{ operator_policy?: string }>(`/api/queues/${vhost}/full-outbox`)).operator_policy === 'full-outbox-small', 20_000, 100);
  }, 90_000);
  afterAll(async () => {
    await admin?.close();
    await h?.close();
  }, 60_000);

  it('answers 503 with Retry-After once the broker refuses, queues only what it accepted, and accepts again once drained', async () => {
    const replies = [];
    for (let i = 0; i < 8; i++) replies.push(await h.api.request('POST', '/send', { token: full.token, json: { topic: 'soar.full.x', message: i } }));
    const accepted = replies.filter((r) => r.status === 202);
    const refused = replies.filter((r) => r.status !== 202);
    expect(accepted.length).toBeGreaterThanOrEqual(3);
    expect(refused.length).toBeGreaterThanOrEqual(1);
    for (const r of refused) {
      expect(r.status).toBe(503);
      expect(r.headers.get('retry-after')).toBe('5');
      expect(r.body.message).toMatch(/destination queue is full/);
    }
    expect((await drain(admin.channel, 'full-outbox')).map((m) => m.properties.messageId)).toEqual(accepted.map((r) => r.body.message_id));

    expect((await h.api.request('POST', '/send', { token: full.token, json: { topic: 'soar.full.x', message: 'later' } })).status).toBe(202);
    await drain(admin.channel, 'full-outbox');
  });
});
