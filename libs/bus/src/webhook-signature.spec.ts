import { createHmac } from 'node:crypto';
import {
  WebhookVerificationError,
  generateWebhookSecret,
  signWebhook,
  verifyWebhook,
  webhookHeaders,
  webhookSecretKey,
} from './webhook-signature';

// the example from the Standard Webhooks reference libraries' test suites
const REFERENCE = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

describe('Standard Webhooks signatures', () => {
  it('signs exactly as the reference implementation', () => {
    expect(signWebhook(REFERENCE.secret, REFERENCE.id, REFERENCE.timestamp, REFERENCE.body)).toBe(REFERENCE.signature);
  });

  it('keys the HMAC with the base64-decoded part after whsec_', () => {
    const key = Buffer.from(REFERENCE.secret.slice('whsec_'.length), 'base64');
    const expected = createHmac('sha256', key).update(`${REFERENCE.id}.${REFERENCE.timestamp}.${REFERENCE.body}`).digest('base64');
    expect(webhookSecretKey(REFERENCE.secret).equals(key)).toBe(true);
    expect(signWebhook(REFERENCE.secret, REFERENCE.id, REFERENCE.timestamp, Buffer.from(REFERENCE.body))).toBe(`v1,${expected}`);
  });

  it('generates whsec_ secrets of 32 random bytes', () => {
    const a = generateWebhookSecret();
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]+=*$/);
    expect(webhookSecretKey(a)).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(a);
  });

  it('verifies headers it produced, and refuses tampering, other secrets, stale timestamps and missing headers', () => {
    const secret = generateWebhookSecret();
    const now = new Date('2025-01-01T00:00:00Z');
    const body = JSON.stringify({ hello: 'world' });
    const headers = webhookHeaders(secret, 'id-1', body, now);
    expect(headers['webhook-timestamp']).toBe(String(now.getTime() / 1000));
    expect(() => verifyWebhook(secret, headers, body, { now })).not.toThrow();

    expect(() => verifyWebhook(secret, headers, body.replace('world', 'w0rld'), { now })).toThrow(WebhookVerificationError);
    expect(() => verifyWebhook(generateWebhookSecret(), headers, body, { now })).toThrow('no matching signature');
    expect(() => verifyWebhook(secret, { ...headers, 'webhook-id': 'id-2' }, body, { now })).toThrow('no matching signature');
    const later = new Date(now.getTime() + 301_000);
    expect(() => verifyWebhook(secret, headers, body, { now: later })).toThrow('outside the tolerance');
    expect(() => verifyWebhook(secret, { ...headers, 'webhook-signature': undefined }, body, { now })).toThrow('missing');
  });

  it('accepts any one of several space-separated signatures (secret rotation)', () => {
    const now = new Date(REFERENCE.timestamp * 1000);
    const headers = {
      'webhook-id': REFERENCE.id,
      'webhook-timestamp': String(REFERENCE.timestamp),
      'webhook-signature': `v1,bm90IGl0 v2,whatever ${REFERENCE.signature}`,
    };
    expect(() => verifyWebhook(REFERENCE.secret, headers, REFERENCE.body, { now })).not.toThrow();
  });
});
