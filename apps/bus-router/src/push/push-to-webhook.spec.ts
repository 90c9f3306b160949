import { Logger } from '@nestjs/common';
import { generateWebhookSecret, verifyWebhook } from '@purple/bus';
import { BusClientRepository } from '../clients/bus-client.repository';
import { ACK, RELEASE } from '@purple/messaging';
import { fakeDelivery, testConfig } from '../../test/doubles';
import { PushToWebhook, WebhookTarget } from './push-to-webhook';
import { WebhookPost, WebhookResponse, WebhookTransport } from './webhook-sender';

Logger.overrideLogger(false);

const envelope = {
  message_id: '0b6e3f5e-8a51-4c0e-9f59-3f1c2e8d7a10',
  topic: 'soar.noc.x',
  sender: 'noc-c2',
  sent_at: '2025-05-01T10:00:00.000Z',
  message: { hello: 'world' },
};

/** A transport answering from a script, recording every POST. */
function scriptedTransport(...answers: WebhookResponse[]) {
  const posts: WebhookPost[] = [];
  const transport: WebhookTransport = {
    post: async (post) => {
      posts.push(post);
      return answers[Math.min(posts.length, answers.length) - 1];
    },
  };
  return { transport, posts };
}

const answered = (status: number): WebhookResponse => ({ outcome: 'answered', status });

function setup(answers: WebhookResponse[], disable: () => Promise<void> = async () => undefined, config: Record<string, string> = {}) {
  const { transport, posts } = scriptedTransport(...answers);
  const disabled: string[] = [];
  const clients = { disableWebhook: async (id: string) => (await disable(), disabled.push(id)) } as unknown as BusClientRepository;
  const push = new PushToWebhook(transport, clients, testConfig({ WEBHOOK_MAX_ATTEMPTS: '4', ...config }));
  const target: WebhookTarget = { clientId: 'hooked', url: 'https://hooks.example.com/soar', secret: generateWebhookSecret() };
  return { push, posts, disabled, target };
}

describe('PushToWebhook', () => {
  it('POSTs the inbox message as it is, signed, and acks on a 2xx', async () => {
    const { push, posts, target } = setup([answered(202)]);
    const { delivery } = fakeDelivery(envelope);
    expect(await push.execute(() => target, delivery)).toEqual(ACK);
    expect(posts).toHaveLength(1);
    expect(posts[0].url).toBe(target.url);
    expect(posts[0].body.equals(delivery.message.content)).toBe(true);
    expect(posts[0].headers['webhook-id']).toBe(envelope.message_id);
    expect(() => verifyWebhook(target.secret, posts[0].headers, posts[0].body)).not.toThrow();
  });

  it('retries failures of every kind until one succeeds', async () => {
    const { push, posts, target } = setup([answered(500), { outcome: 'timed-out' }, { outcome: 'failed', reason: 'ECONNREFUSED' }, answered(200)]);
    expect(await push.execute(() => target, fakeDelivery(envelope).delivery)).toEqual(ACK);
    expect(posts).toHaveLength(4);
    expect(new Set(posts.map((p) => p.headers['webhook-id']))).toEqual(new Set([envelope.message_id]));
  });

  it('gives every copy of one message (a duplicate in the inbox, a redelivery) the same webhook-id, its message_id', async () => {
    const { push, posts, target } = setup([answered(200)]);
    await push.execute(() => target, fakeDelivery(envelope).delivery);
    await push.execute(() => target, fakeDelivery(envelope, { redelivered: true } as never).delivery);
    await push.execute(() => target, fakeDelivery({ ...envelope, message_id: '7c9e6679-7425-40de-944b-e07fc1f90ae7' }).delivery);
    expect(posts.map((p) => p.headers['webhook-id'])).toEqual([envelope.message_id, envelope.message_id, '7c9e6679-7425-40de-944b-e07fc1f90ae7']);
  });

  it.each([
    [answered(503), 'HTTP 503'],
    [answered(404), 'HTTP 404'],
    [answered(301), 'HTTP 301 (redirects are not followed)'],
    [{ outcome: 'timed-out' } as WebhookResponse, 'timed out'],
    [{ outcome: 'failed', reason: 'ENOTFOUND' } as WebhookResponse, 'no answer: ENOTFOUND'],
    [{ outcome: 'refused', reason: 'webhook URL host x resolves to 10.0.0.1, which is a private address' } as WebhookResponse, 'refused: webhook URL host x'],
  ])('dead-letters after the last attempt, with the last failure as the reason (%j)', async (answer, reason) => {
    const { push, posts, target } = setup([answer]);
    const disposition = await push.execute(() => target, fakeDelivery(envelope).delivery);
    expect(disposition).toEqual({ action: 'dead-letter', reason: expect.stringContaining(`webhook delivery failed after 4 attempts: ${reason}`) });
    expect(posts).toHaveLength(4);
  });

  it('on 410 Gone disables the webhook, then returns the message to the inbox and stops', async () => {
    const { push, posts, disabled, target } = setup([answered(410)]);
    expect(await push.execute(() => target, fakeDelivery(envelope).delivery)).toEqual({ action: 'requeue-and-stop' });
    expect(disabled).toEqual(['hooked']);
    expect(posts).toHaveLength(1);
  });

  it('treats a 410 it cannot record as a failed attempt', async () => {
    const { push, target } = setup([answered(410)], async () => {
      throw new Error('database unreachable');
    });
    expect(await push.execute(() => target, fakeDelivery(envelope).delivery)).toEqual({
      action: 'dead-letter',
      reason: 'webhook delivery failed after 4 attempts: HTTP 410 Gone, but disabling the webhook failed: database unreachable',
    });
  });

  it('dead-letters what is not an envelope without POSTing it', async () => {
    const { push, posts, target } = setup([answered(200)]);
    const disposition = await push.execute(() => target, fakeDelivery({ ...envelope, sender: 'Not A Client' }).delivery);
    expect(disposition).toEqual({ action: 'dead-letter', reason: expect.stringMatching(/^invalid envelope: sender must be a client id/) });
    expect(posts).toHaveLength(0);
  });

  it('reads the target at every attempt, so a changed URL or secret applies to the next one', async () => {
    const { push, posts, target } = setup([answered(500), answered(200)]);
    let current = target;
    const moved = { ...target, url: 'https://moved.example.com/hook', secret: generateWebhookSecret() };
    const outcome = await push.execute(() => {
      const now = current;
      current = moved;
      return now;
    }, fakeDelivery(envelope).delivery);
    expect(outcome).toEqual(ACK);
    expect(posts.map((p) => p.url)).toEqual([target.url, moved.url]);
    expect(() => verifyWebhook(moved.secret, posts[1].headers, posts[1].body)).not.toThrow();
  });

  it('releases the message, unacked, when stopped while waiting to retry', async () => {
    const { push, posts, target } = setup([answered(500)], undefined, { WEBHOOK_BACKOFF_BASE_MS: '60000', WEBHOOK_BACKOFF_MAX_MS: '60000' });
    const { delivery, abort } = fakeDelivery(envelope);
    const outcome = push.execute(() => target, delivery);
    setTimeout(() => abort.abort(), 50);
    expect(await outcome).toEqual(RELEASE);
    expect(posts).toHaveLength(1);
  });
});
