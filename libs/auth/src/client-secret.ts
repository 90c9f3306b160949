import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/**
 * Client secrets: 32 random bytes shown once, stored only as an scrypt hash with its own salt. The cost
 * parameters travel in the stored string (`scrypt$N$r$p$salt$hash`), so raising them later keeps old hashes valid.
 */

const KEY_LENGTH = 32;
const SALT_BYTES = 16;
/** N = 2^15, r = 8: about 32 MiB and 0.1 s per hash on a small server; a guessing attacker pays the same. */
const DEFAULT_COST = { N: 2 ** 15, r: 8, p: 1 };
const PREFIX = 'scrypt';

export interface ScryptCost {
  N: number;
  r: number;
  p: number;
}

/** A new client secret: 32 random bytes, base64url (43 characters). */
export function generateClientSecret(): string {
  return randomBytes(32).toString('base64url');
}

function derive(secret: string, salt: Buffer, cost: ScryptCost): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    // scrypt needs 128·N·r bytes; allow twice that so the default limit (32 MiB) does not refuse N = 2^15
    scrypt(secret, salt, KEY_LENGTH, { ...cost, maxmem: 256 * cost.N * cost.r }, (error, key) =>
      error ? reject(error) : resolve(key),
    ),
  );
}

/** The string to store for `secret`. */
export async function hashClientSecret(secret: string, cost: ScryptCost = DEFAULT_COST): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const key = await derive(secret, salt, cost);
  return [PREFIX, cost.N, cost.r, cost.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `secret` is the one behind `stored`, compared in constant time; false for a malformed `stored`. */
export async function verifyClientSecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== PREFIX) return false;
  const [N, r, p] = parts.slice(1, 4).map(Number);
  if (![N, r, p].every((n) => Number.isInteger(n) && n > 0)) return false;
  const expected = Buffer.from(parts[5], 'base64url');
  if (expected.length !== KEY_LENGTH) return false;
  const actual = await derive(secret, Buffer.from(parts[4], 'base64url'), { N, r, p });
  return timingSafeEqual(actual, expected);
}

/**
 * A hash no secret matches, for verifying against when the client id is unknown: the answer then takes as long as
 * for a known client, so timing does not tell which client ids exist.
 */
let decoyHash: Promise<string> | undefined;
export function decoySecretHash(): Promise<string> {
  decoyHash ??= hashClientSecret(generateClientSecret());
  return decoyHash;
}
