import { LoginRateLimiter, SlidingWindow } from './login-rate-limiter';

describe('SlidingWindow', () => {
  it('allows `limit` events per window, then says how long until the oldest leaves it', () => {
    const window = new SlidingWindow(2, 1000);
    expect(window.waitMs('k', 0)).toBe(0);
    window.add('k', 0);
    window.add('k', 400);
    expect(window.waitMs('k', 500)).toBe(500);
    expect(window.waitMs('k', 1000)).toBe(0); // the event at 0 has left the window
    expect(window.waitMs('other', 500)).toBe(0);
  });

  it('forgets the least recently used key beyond its capacity', () => {
    const window = new SlidingWindow(1, 1000, 2);
    window.add('a', 0);
    window.add('b', 0);
    window.add('c', 0);
    expect(window.waitMs('a', 1)).toBe(0);
    expect(window.waitMs('c', 1)).toBe(999);
  });
});

describe('LoginRateLimiter', () => {
  let now = 0;
  const limiter = () => new LoginRateLimiter({ maxFailuresPerClient: 2, maxFailuresPerAddress: 3, windowSeconds: 60 }, () => now);
  beforeEach(() => (now = 1_000_000));

  it('locks a client id out after its failures, for the rest of the window, in whole seconds', () => {
    const rl = limiter();
    expect(rl.begin('a', 'ip1')).toHaveProperty('succeeded');
    now += 1500;
    expect(rl.begin('a', 'ip2')).toHaveProperty('succeeded');
    expect(rl.begin('a', 'ip3')).toEqual({ retryAfterSeconds: 59 });
    expect(rl.begin('b', 'ip3')).toHaveProperty('succeeded');
    now += 58_500;
    expect(rl.begin('a', 'ip3')).toHaveProperty('succeeded');
  });

  it('locks an address out after its failures, whichever ids it tries', () => {
    const rl = limiter();
    rl.begin('a', 'ip');
    rl.begin('b', 'ip');
    rl.begin('c', 'ip');
    expect(rl.begin('d', 'ip')).toEqual({ retryAfterSeconds: 60 });
  });

  it('forgets a client id’s failures on success, and does not count an undecided attempt', () => {
    const rl = limiter();
    rl.begin('a', 'ip');
    const attempt = rl.begin('a', 'ip');
    if ('succeeded' in attempt) attempt.succeeded();
    const undecided = rl.begin('a', 'ip');
    if ('undecided' in undecided) undecided.undecided();
    expect(rl.begin('a', 'ip')).toHaveProperty('succeeded');
  });
});
