import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com/) signing: `webhook-signature` is `v1,` followed by the
 * base64 HMAC-SHA256, keyed with the secret's bytes, of `<webhook-id>.<webhook-timestamp>.<body>`.
 */

export const WEBHOOK_SECRET_PREFIX = 'whsec_';
export const WEBHOOK_HEADERS = {
  id: 'webhook-id',
  timestamp: 'webhook-timestamp',
  signature: 'webhook-signature',
} as const;
/** how far a timestamp may be from the receiver's clock before the delivery is refused as a replay */
export const DEFAULT_WEBHOOK_TOLERANCE_SECONDS = 300;

const SECRET_BYTES = 32;

export class WebhookVerificationError extends Error {
  override readonly name = 'WebhookVerificationError';
}

/** A new signing secret, `whsec_<base64>`, shown to the client once. */
export function generateWebhookSecret(): string {
  return WEBHOOK_SECRET_PREFIX + randomBytes(SECRET_BYTES).toString('base64');
}

/** The HMAC key a secret stands for: the base64 part after `whsec_`. */
export function webhookSecretKey(secret: string): Buffer {
  const encoded = secret.startsWith(WEBHOOK_SECRET_PREFIX) ? secret.slice(WEBHOOK_SECRET_PREFIX.length) : secret;
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(encoded)) throw new Error('a webhook secret must be whsec_ followed by base64');
  return Buffer.from(encoded, 'base64');
}

/** `v1,<base64 signature>` for one delivery attempt. */
export function signWebhook(secret: string, id: string, timestampSeconds: number, body: string | Buffer): string {
  return `v1,${hmac(webhookSecretKey(secret), id, timestampSeconds, body).toString('base64')}`;
}

/** The three headers of a delivery attempt made at `now`. */
export function webhookHeaders(secret: string, id: string, body: string | Buffer, now = new Date()): Record<string, string> {
  const timestamp = Math.floor(now.getTime() / 1000);
  return {
    [WEBHOOK_HEADERS.id]: id,
    [WEBHOOK_HEADERS.timestamp]: String(timestamp),
    [WEBHOOK_HEADERS.signature]: signWebhook(secret, id, timestamp, body),
  };
}

export interface VerifyOptions {
  toleranceSeconds?: number;
  now?: Date;
}

/**
 * What a receiver does: checks that the timestamp is recent and that one of the (space-separated) `v1`
 * signatures matches, in constant time. Throws {@link WebhookVerificationError} saying why not.
 */
export function verifyWebhook(
  secret: string,
  headers: Record<string, string | string[] | undefined>,
  body: string | Buffer,
  options: VerifyOptions = {},
): void {
  const header = (name: string) => {
    const value = headers[name] ?? headers[name.toLowerCase()];
    return Array.isArray(value) ? value[0] : value;
  };
  const id = header(WEBHOOK_HEADERS.id);
  const timestampText = header(WEBHOOK_HEADERS.timestamp);
  const signatures = header(WEBHOOK_HEADERS.signature);
  if (!id || !timestampText || !signatures) throw new WebhookVerificationError('missing webhook-id, webhook-timestamp or webhook-signature');
  if (!/^\d+$/.test(timestampText)) throw new WebhookVerificationError('webhook-timestamp is not a unix time in seconds');

  const timestamp = Number(timestampText);
  const nowSeconds = Math.floor((options.now ?? new Date()).getTime() / 1000);
  const tolerance = options.toleranceSeconds ?? DEFAULT_WEBHOOK_TOLERANCE_SECONDS;
  if (Math.abs(nowSeconds - timestamp) > tolerance) throw new WebhookVerificationError('webhook-timestamp is outside the tolerance');

  const expected = hmac(webhookSecretKey(secret), id, timestamp, body);
  const matches = signatures.split(' ').some((candidate) => {
    const [version, signature] = candidate.split(',', 2);
    if (version !== 'v1' || !signature) return false;
    const given = Buffer.from(signature, 'base64');
    return given.length === expected.length && timingSafeEqual(given, expected);
  });
  if (!matches) throw new WebhookVerificationError('no matching signature');
}

function hmac(key: Buffer, id: string, timestampSeconds: number, body: string | Buffer): Buffer {
  return createHmac('sha256', key).update(`${id}.${timestampSeconds}.`).update(body).digest();
}
