import { ApiEnv } from '../config/api-env';

/** Event times per key within a sliding window, bounded in keys so a flood of made-up ids cannot exhaust memory. */
export class SlidingWindow {
  private readonly events = new Map<string, number[]>();

  constructor(
    private readonly limit: number,
    private readonly windowMs: number,
    private readonly maxKeys = 10_000,
  ) {}

  /** 0 when another event is allowed now, else how long until one is */
  waitMs(key: string, now: number): number {
    const times = this.current(key, now);
    return times.length >= this.limit ? times[times.length - this.limit] + this.windowMs - now : 0;
  }

  add(key: string, at: number): void {
    const times = this.current(key, at);
    times.push(at);
    this.events.delete(key); // re-insert: the map's order is then least recently used first
    this.events.set(key, times);
    if (this.events.size > this.maxKeys) this.events.delete(this.events.keys().next().value as string);
  }

  remove(key: string, at: number): void {
    const times = this.events.get(key);
    const index = times?.indexOf(at) ?? -1;
    if (times && index >= 0) times.splice(index, 1);
  }

  clear(key: string): void {
    this.events.delete(key);
  }

  private current(key: string, now: number): number[] {
    const times = (this.events.get(key) ?? []).filter((t) => t > now - this.windowMs);
    if (times.length > 0) this.events.set(key, times);
    else this.events.delete(key);
    return times;
  }
}

/** A login attempt under way: counted as a failure unless it succeeds. */
export interface LoginAttempt {
  succeeded(): void;
  /** the attempt could not be decided (the database failed): it does not count */
  undecided(): void;
}

/**
 * Failed logins per client id and per source address in a sliding window (LOGIN_MAX_FAILURES_PER_CLIENT,
 * LOGIN_MAX_FAILURES_PER_IP, LOGIN_FAILURE_WINDOW_SECONDS). An attempt counts as failed from its start, so parallel
 * guesses cannot slip past the limit while their hashes are being checked. Kept in memory, per replica.
 */
export class LoginRateLimiter {
  private readonly perClient: SlidingWindow;
  private readonly perAddress: SlidingWindow;

  constructor(
    limits: { maxFailuresPerClient: number; maxFailuresPerAddress: number; windowSeconds: number },
    private readonly clock: () => number = Date.now,
  ) {
    this.perClient = new SlidingWindow(limits.maxFailuresPerClient, limits.windowSeconds * 1000);
    this.perAddress = new SlidingWindow(limits.maxFailuresPerAddress, limits.windowSeconds * 1000);
  }

  static fromEnv(env: ApiEnv): LoginRateLimiter {
    return new LoginRateLimiter({
      maxFailuresPerClient: env.LOGIN_MAX_FAILURES_PER_CLIENT,
      maxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_IP,
      windowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
    });
  }

  /** @returns the attempt, or the seconds to wait when the client id or the address is locked out */
  begin(clientId: string, address: string): LoginAttempt | { retryAfterSeconds: number } {
    const now = this.clock();
    const waitMs = Math.max(this.perClient.waitMs(clientId, now), this.perAddress.waitMs(address, now));
    if (waitMs > 0) return { retryAfterSeconds: Math.max(1, Math.ceil(waitMs / 1000)) };
    this.perClient.add(clientId, now);
    this.perAddress.add(address, now);
    return {
      succeeded: () => {
        this.perClient.clear(clientId);
        this.perAddress.remove(address, now);
      },
      undecided: () => {
        this.perClient.remove(clientId, now);
        this.perAddress.remove(address, now);
      },
    };
  }
}
