import { createHmac, randomUUID, timingSafeEqual } from 'node:crypto';

/**
 * Access tokens are JWTs (RFC 7519) signed with HS256 (HMAC-SHA256) by the api itself, so every replica can verify
 * them with the shared key and no token store. Revocation works through `inc` and `ver`: the token must name the
 * client's current incarnation (a random id given at each creation, so a deleted and re-created client never
 * accepts its predecessor's tokens) and its current token version, which rotation bumps.
 */

export interface AccessTokenClaims {
  /** the client id */
  sub: string;
  /** space-separated scopes (RFC 8693 §4.2) */
  scope: string;
  /** the client's token version when the token was issued */
  ver: number;
  /** the client's incarnation (bus_client.incarnation) when the token was issued */
  inc: string;
  /** unique token id */
  jti: string;
  /** issued at, seconds since the epoch */
  iat: number;
  /** expires at, seconds since the epoch */
  exp: number;
}

/** The token is not one we can accept; `message` says why, fit to show the caller. */
export class InvalidTokenError extends Error {
  override readonly name = 'InvalidTokenError';
}

const HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');
/** a signing key shorter than this is refused: HS256 needs at least 256 bits of key to be as strong as its hash */
export const MIN_SIGNING_KEY_LENGTH = 32;

const hmac = (key: string, data: string) => createHmac('sha256', Buffer.from(key, 'utf8')).update(data).digest();

function assertKey(key: string): void {
  if (key.length < MIN_SIGNING_KEY_LENGTH) throw new Error(`the token signing key must be at least ${MIN_SIGNING_KEY_LENGTH} characters`);
}

export interface IssueInput {
  clientId: string;
  scope: string;
  tokenVersion: number;
  incarnation: string;
  ttlSeconds: number;
  now?: Date;
}

export function signAccessToken(input: IssueInput, key: string): { token: string; claims: AccessTokenClaims } {
  assertKey(key);
  const nowMs = (input.now ?? new Date()).getTime();
  const claims: AccessTokenClaims = {
    sub: input.clientId,
    scope: input.scope,
    ver: input.tokenVersion,
    inc: input.incarnation,
    jti: randomUUID(),
    iat: Math.floor(nowMs / 1000),
    // rounded up, so the token lives at least the `expires_in` the client is told
    exp: Math.ceil(nowMs / 1000 + input.ttlSeconds),
  };
  const signingInput = `${HEADER}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}`;
  return { token: `${signingInput}.${hmac(key, signingInput).toString('base64url')}`, claims };
}

const BASE64URL = /^[A-Za-z0-9_-]+$/;

/** Checks the signature, the algorithm, the claims' types and the expiry; throws {@link InvalidTokenError}. */
export function verifyAccessToken(token: string, key: string, now: Date = new Date()): AccessTokenClaims {
  assertKey(key);
  const parts = token.split('.');
  if (parts.length !== 3 || !parts.every((p) => BASE64URL.test(p))) throw new InvalidTokenError('the token is not a JWT');
  const [header, payload, signature] = parts;
  const expected = hmac(key, `${header}.${payload}`);
  const given = Buffer.from(signature, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    throw new InvalidTokenError('the token signature is invalid');
  }
  // the signature is ours, so the header is too; checking it still refuses a token signed for another algorithm
  const parsedHeader = parseJson(header);
  if (parsedHeader?.['alg'] !== 'HS256') throw new InvalidTokenError('the token algorithm is not HS256');
  const claims = parseJson(payload);
  if (
    !claims ||
    typeof claims['sub'] !== 'string' ||
    typeof claims['scope'] !== 'string' ||
    typeof claims['jti'] !== 'string' ||
    typeof claims['inc'] !== 'string' ||
    !Number.isInteger(claims['ver']) ||
    !Number.isInteger(claims['iat']) ||
    !Number.isInteger(claims['exp'])
  ) {
    throw new InvalidTokenError('the token claims are malformed');
  }
  if (Math.floor(now.getTime() / 1000) >= (claims['exp'] as number)) throw new InvalidTokenError('the token has expired');
  return claims as unknown as AccessTokenClaims;
}

function parseJson(part: string): Record<string, unknown> | undefined {
  try {
    const value: unknown = JSON.parse(Buffer.from(part, 'base64url').toString('utf8'));
    return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
