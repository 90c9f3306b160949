import { MemoryLoginFailures } from '../../test/memory-login-failures';
import { loginAddressKey } from './login-address';
import { LoginAttempt, LoginRateLimiter } from './login-rate-limiter';

describe('loginAddressKey', () => {
  it('keeps an IPv4 address (mapped or not) and groups IPv6 by its /64 (issue 12 #7)', () => {
    expect(loginAddressKey('203.0.113.7')).toBe('203.0.113.7');
    expect(loginAddressKey('::ffff:203.0.113.7')).toBe('203.0.113.7');
    expect(loginAddressKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(loginAddressKey('2001:db8:1:2:ffff:ffff:ffff:fffe')).toBe('2001:db8:1:2::/64');
    expect(loginAddressKey('2001:db8:1:3::1')).toBe('2001:db8:1:3::/64');
  });
});

describe('LoginRateLimiter', () => {
  let now = 0;
  let store: MemoryLoginFailures;
  const limiter = () => new LoginRateLimiter(store, { maxFailuresPerClient: 2, maxFailuresPerAddress: 3, windowSeconds: 60 });
  const begin = async (rl: LoginRateLimiter, address: string): Promise<LoginAttempt> => {
    const attempt = await rl.begin(address);
    if ('retryAfterSeconds' in attempt) throw new Error(`locked out for ${attempt.retryAfterSeconds} s`);
    return attempt;
  };
  beforeEach(() => {
    now = 1_000_000;
    store = new MemoryLoginFailures(() => now);
  });

  it('refuses failing guesses at a client id after its limit, but never its right secret (issue 12 #7)', async () => {
    const rl = limiter();
    expect(await (await begin(rl, 'ip1')).failed('a')).toBeNull();
    now += 1500;
    expect(await (await begin(rl, 'ip2')).failed('a')).toBeNull();
    // locked: a wrong secret is refused for the rest of the window, in whole seconds
    expect(await (await begin(rl, 'ip3')).failed('a')).toBe(59);
    // the right one is not: the caller checks the secret and calls succeeded(), which clears the id's failures
    await (await begin(rl, 'ip4')).succeeded('a');
    expect(await (await begin(rl, 'ip4')).failed('a')).toBeNull();
  });

  it('locks an address out after its failures, whichever ids it tries, and an IPv6 /64 as one address', async () => {
    const rl = limiter();
    for (const id of ['a', 'b', 'c']) await (await begin(rl, '2001:db8::1')).failed(id);
    expect(await rl.begin('2001:db8::99')).toEqual({ retryAfterSeconds: 60 });
    expect(await rl.begin('2001:db8:0:1::1')).toHaveProperty('succeeded');
  });

  it('counts a malformed id against the address only, and an undecided attempt not at all', async () => {
    const rl = limiter();
    expect(await (await begin(rl, 'ip')).failed(null)).toBeNull();
    expect(store.keys('client')).toEqual([]);
    await (await begin(rl, 'ip')).undecided();
    await (await begin(rl, 'ip')).undecided();
    expect(await rl.begin('ip')).toHaveProperty('succeeded');
  });
});
