import { INestApplication } from '@nestjs/common';
import { createHmac } from 'node:crypto';
import { generateWebhookSecret, verifyWebhook } from '@purple/bus';
import { REJECTION_REASON_HEADER } from '@purple/messaging';
import { SecretBox } from '@purple/platform';
import { eventually } from '@purple/testing';
import { clientQueues } from '@purple/topology';
import { ClientRouter } from '../src/router/client-router';
import { BusTestBed, ClientFixture, WEBHOOK_SECRET_KEY, envelopeOf } from './support';
import { ReceivedRequest, WebhookReceiver } from './webhook-receiver';

const q = clientQueues;
const sender: ClientFixture = { clientId: 'sensor', subscription: 'nothing.for.me' };
const ATTEMPTS = 3;

/** The Standard Webhooks signature, computed here from the spec rather than with the code under test. */
function independentSignature(secret: string, request: ReceivedRequest): string {
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  const signed = `${request.headers['webhook-id']}.${request.headers['webhook-timestamp']}.${request.body}`;
  return `v1,${createHmac('sha256', key).update(signed).digest('base64')}`;
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('bus-router: push to webhooks (real broker, database and a loopback receiver)', () => {
  let bed: BusTestBed;
  let router: INestApplication;
  let receiver: WebhookReceiver;

  /** A client with a webhook on the receiver; its inbox gets every topic under `soar.push.<name>`. */
  async function webhookClient(name: string, url: string, extra: Partial<ClientFixture> = {}): Promise<ClientFixture & { webhookSecret: string }> {
    const client = { clientId: `hook-${name}`, subscription: `soar.push.${name}.#`, webhookUrl: url, webhookSecret: generateWebhookSecret(), ...extra };
    await bed.createClient(client);
    await eventually(async () => router.get(ClientRouter).isPushing(client.clientId) || extra.webhookEnabled === false);
    return client;
  }

  beforeAll(async () => {
    [bed, receiver] = await Promise.all([BusTestBed.create(), WebhookReceiver.start()]);
    await bed.createClient(sender);
    router = await bed.startRouter({
      // loopback IPv4 only, so that an IPv6 loopback URL shows a refusal
      WEBHOOK_ALLOWLIST: '127.0.0.0/8',
      WEBHOOK_MAX_ATTEMPTS: String(ATTEMPTS),
      WEBHOOK_BACKOFF_BASE_MS: '50',
      WEBHOOK_BACKOFF_MAX_MS: '200',
      WEBHOOK_TIMEOUT_MS: '500',
    });
  }, 60_000);

  afterAll(async () => {
    await BusTestBed.closeRouter(router);
    await Promise.all([bed?.dispose(), receiver?.stop()]);
  }, 60_000);

  it('POSTs each message once, in order, signed per Standard Webhooks, and acks it', async () => {
    const client = await webhookClient('ok', receiver.route('/ok', () => ({ status: 200 })));
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) ids.push(await bed.send(sender.clientId, { topic: 'soar.push.ok.reading', message: { i } }));

    await eventually(async () => receiver.on('/ok').length >= 3);
    await pause(300); // a second delivery of any of them would show up now
    const requests = receiver.on('/ok');
    expect(requests.map((r) => r.headers['webhook-id'])).toEqual(ids);
    for (const request of requests) {
      expect(request.method).toBe('POST');
      expect(request.headers['content-type']).toBe('application/json');
      expect(() => verifyWebhook(client.webhookSecret, request.headers, request.body)).not.toThrow();
      expect(request.headers['webhook-signature']).toBe(independentSignature(client.webhookSecret, request));
      expect(Math.abs(Number(request.headers['webhook-timestamp']) - Date.now() / 1000)).toBeLessThan(60);
      expect(JSON.parse(request.body)).toMatchObject({ message_id: request.headers['webhook-id'], sender: 'sensor', topic: 'soar.push.ok.reading' });
    }
    expect(requests.map((r) => JSON.parse(r.body).message)).toEqual([{ i: 0 }, { i: 1 }, { i: 2 }]);
    await eventually(async () => (await bed.depth(q(client.clientId).inbox)) === 0);
    expect(await bed.depth(q(client.clientId).deadLetter)).toBe(0);
  });

  it('retries a receiver that fails twice, which then gets the message, with a fresh valid signature each time', async () => {
    const client = await webhookClient('flaky', receiver.route('/flaky', (n) => ({ status: n <= 2 ? 500 : 204 })));
    const id = await bed.send(sender.clientId, { topic: 'soar.push.flaky.x', message: 'eventually' });

    await eventually(async () => receiver.on('/flaky').length >= 3);
    await pause(300);
    const requests = receiver.on('/flaky');
    expect(requests).toHaveLength(3);
    for (const request of requests) {
      expect(request.headers['webhook-id']).toBe(id);
      expect(() => verifyWebhook(client.webhookSecret, request.headers, request.body)).not.toThrow();
    }
    await eventually(async () => (await bed.depth(q(client.clientId).inbox)) === 0);
    expect(await bed.depth(q(client.clientId).deadLetter)).toBe(0);
  });

  it('dead-letters the message with the reason after the last attempt when the receiver always fails', async () => {
    const client = await webhookClient('down', receiver.route('/down', () => ({ status: 503 })));
    const id = await bed.send(sender.clientId, { topic: 'soar.push.down.x', message: 'lost?' });

    const [deadLetter] = await bed.take(q(client.clientId).deadLetter, 1);
    expect(deadLetter.properties.headers?.[REJECTION_REASON_HEADER]).toBe(`webhook delivery failed after ${ATTEMPTS} attempts: HTTP 503`);
    expect(envelopeOf(deadLetter)).toMatchObject({ message_id: id, message: 'lost?' });
    expect(receiver.on('/down')).toHaveLength(ATTEMPTS);
    expect(await bed.depth(q(client.clientId).inbox)).toBe(0);
  });

  it('counts a receiver that does not answer in time as a failure', async () => {
    const client = await webhookClient('slow', receiver.route('/slow', () => ({ status: 200, delayMs: 2_000 })));
    await bed.send(sender.clientId, { topic: 'soar.push.slow.x', message: 'too slow' });
    const [deadLetter] = await bed.take(q(client.clientId).deadLetter, 1);
    expect(deadLetter.properties.headers?.[REJECTION_REASON_HEADER]).toBe(`webhook delivery failed after ${ATTEMPTS} attempts: timed out`);
  });

  it('does not follow redirects', async () => {
    const client = await webhookClient('moved', receiver.route('/moved', () => ({ status: 302 })));
    await bed.send(sender.clientId, { topic: 'soar.push.moved.x', message: 1 });
    const [deadLetter] = await bed.take(q(client.clientId).deadLetter, 1);
    expect(deadLetter.properties.headers?.[REJECTION_REASON_HEADER]).toContain('HTTP 302 (redirects are not followed)');
  });

  it('refuses, at delivery, a URL that reaches a loopback address not allowlisted', async () => {
    const client = await webhookClient('private', `http://[::1]:${receiver.port}/private`);
    await bed.send(sender.clientId, { topic: 'soar.push.private.x', message: 'ssrf' });
    const [deadLetter] = await bed.take(q(client.clientId).deadLetter, 1);
    expect(deadLetter.properties.headers?.[REJECTION_REASON_HEADER]).toMatch(
      /^webhook delivery failed after 3 attempts: refused: webhook URL host ::1 is a loopback address/,
    );
    expect(receiver.on('/private')).toHaveLength(0);
  });

  it('disables the webhook on 410 Gone and leaves the message in the inbox; re-enabling pushes it', async () => {
    let gone = true;
    const client = await webhookClient('gone', receiver.route('/gone', () => ({ status: gone ? 410 : 200 })));
    const id = await bed.send(sender.clientId, { topic: 'soar.push.gone.x', message: 'for /receive' });

    await eventually(async () => (await bed.sql.query('SELECT webhook_enabled FROM bus_client WHERE client_id = $1', [client.clientId])).rows[0].webhook_enabled === false);
    await eventually(async () => !router.get(ClientRouter).isPushing(client.clientId));
    await eventually(async () => (await bed.depth(q(client.clientId).inbox)) === 1);
    await pause(300);
    expect(receiver.on('/gone')).toHaveLength(1);
    expect(await bed.depth(q(client.clientId).deadLetter)).toBe(0);

    // the client registers its webhook again (as PATCH /clients does): pushing resumes, with the waiting message
    gone = false;
    await bed.sql.query('UPDATE bus_client SET webhook_enabled = true WHERE client_id = $1', [client.clientId]);
    await eventually(async () => receiver.on('/gone').length === 2);
    expect(receiver.on('/gone')[1].headers['webhook-id']).toBe(id);
    await eventually(async () => (await bed.depth(q(client.clientId).inbox)) === 0);
  });

  it('starts and stops pushing as a client’s webhook URL is set and removed, while running', async () => {
    const client = { clientId: 'hook-later', subscription: 'soar.push.later.#' };
    await bed.createClient(client);
    const url = receiver.route('/later', () => ({ status: 200 }));
    const sealedSecret = new SecretBox(WEBHOOK_SECRET_KEY).seal(generateWebhookSecret(), client.clientId);
    await bed.sql.query('UPDATE bus_client SET webhook_url = $2, webhook_secret_ciphertext = $3 WHERE client_id = $1', [client.clientId, url, sealedSecret]);
    await bed.send(sender.clientId, { topic: 'soar.push.later.x', message: 'pushed' });
    await eventually(async () => receiver.on('/later').length === 1, 5_000);

    await bed.sql.query('UPDATE bus_client SET webhook_url = NULL WHERE client_id = $1', [client.clientId]);
    await eventually(async () => !router.get(ClientRouter).isPushing(client.clientId), 5_000);
    await bed.send(sender.clientId, { topic: 'soar.push.later.x', message: 'kept for /receive' });
    await eventually(async () => (await bed.depth(q(client.clientId).inbox)) === 1);
    expect(receiver.on('/later')).toHaveLength(1);
  });
});
