import { InvalidTokenError, signAccessToken, verifyAccessToken } from './access-token';

const KEY = 'k'.repeat(32);
const OTHER_KEY = 'o'.repeat(32);
const issue = (overrides: Partial<Parameters<typeof signAccessToken>[0]> = {}, key = KEY) =>
  signAccessToken({ clientId: 'noc-c2', scope: 'bus', tokenVersion: 3, incarnation: 'inc-1', ttlSeconds: 60, ...overrides }, key);

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');

describe('access tokens (HS256 JWT)', () => {
  it('round-trips the claims, with iat/exp from the lifetime and a unique jti', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const { token, claims } = issue({ now });
    expect(claims).toMatchObject({ sub: 'noc-c2', scope: 'bus', ver: 3, inc: 'inc-1', iat: 1767225600, exp: 1767225660 });
    expect(verifyAccessToken(token, KEY, new Date('2026-01-01T00:00:30Z'))).toEqual(claims);
    expect(issue().claims.jti).not.toBe(issue().claims.jti);
    expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).toEqual({ alg: 'HS256', typ: 'JWT' });
  });

  it('lives at least its lifetime, though issued in the middle of a second', () => {
    const { claims } = issue({ now: new Date('2026-01-01T00:00:00.400Z'), ttlSeconds: 10 });
    expect(claims).toMatchObject({ iat: 1767225600, exp: 1767225611 });
  });

  it('refuses an expired token, from the second it expires', () => {
    const now = new Date('2026-01-01T00:00:00Z');
    const { token } = issue({ now, ttlSeconds: 10 });
    expect(() => verifyAccessToken(token, KEY, new Date('2026-01-01T00:00:09.999Z'))).not.toThrow();
    expect(() => verifyAccessToken(token, KEY, new Date('2026-01-01T00:00:10Z'))).toThrow(new InvalidTokenError('the token has expired'));
  });

  it('refuses a token signed with another key, or with altered claims', () => {
    expect(() => verifyAccessToken(issue({}, OTHER_KEY).token, KEY)).toThrow('the token signature is invalid');
    const [header, , signature] = issue().token.split('.');
    const forged = `${header}.${b64({ sub: 'admin', scope: 'admin', ver: 1, jti: 'x', iat: 0, exp: 9e9 })}.${signature}`;
    expect(() => verifyAccessToken(forged, KEY)).toThrow('the token signature is invalid');
  });

  it('refuses the "none" algorithm and things that are not JWTs', () => {
    const unsigned = `${b64({ alg: 'none' })}.${b64({ sub: 'admin', scope: 'admin', ver: 1, jti: 'x', iat: 0, exp: 9e9 })}.`;
    expect(() => verifyAccessToken(unsigned, KEY)).toThrow(InvalidTokenError);
    expect(() => verifyAccessToken('not-a-token', KEY)).toThrow('the token is not a JWT');
    expect(() => verifyAccessToken('a.b.c.d', KEY)).toThrow('the token is not a JWT');
  });

  it('refuses a key shorter than 32 characters', () => {
    expect(() => issue({}, 'short')).toThrow('at least 32 characters');
  });
});
