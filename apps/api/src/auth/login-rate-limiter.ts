import { ApiEnv } from '../config/api-env';
import { loginAddressKey } from './login-address';
import { LoginFailureStore } from './login-failure.repository';

export interface LoginLimits {
  maxFailuresPerClient: number;
  maxFailuresPerAddress: number;
  windowSeconds: number;
}

/** A login attempt under way: counted against its address as a failure unless it succeeds. */
export interface LoginAttempt {
  succeeded(clientId: string): Promise<void>;
  /**
   * The credentials were wrong. `clientId` (a well-formed id) is counted too.
   * @returns the seconds to wait when the client id is now locked out (answer 429 rather than 401)
   */
  failed(clientId: string | null): Promise<number | null>;
  /** the attempt could not be decided (the database failed): it does not count */
  undecided(): Promise<void>;
}

/**
 * Failed logins per source address and per client id in a sliding window (LOGIN_MAX_FAILURES_PER_IP,
 * LOGIN_MAX_FAILURES_PER_CLIENT, LOGIN_FAILURE_WINDOW_SECONDS), kept in PostgreSQL so every api replica sees them.
 *
 * An address over its limit is refused before its secret is hashed (that spares the CPU); an IPv6 address counts by
 * its /64. A client id over its limit never stops the right secret: only failing attempts are refused (429), so
 * nobody can lock a client out by guessing. An address attempt counts as failed from its start, so parallel guesses
 * cannot slip past the limit while their hashes are being checked.
 */
export class LoginRateLimiter {
  private readonly windowMs: number;

  constructor(
    private readonly store: LoginFailureStore,
    private readonly limits: LoginLimits,
  ) {
    this.windowMs = limits.windowSeconds * 1000;
  }

  static fromEnv(store: LoginFailureStore, env: ApiEnv): LoginRateLimiter {
    return new LoginRateLimiter(store, {
      maxFailuresPerClient: env.LOGIN_MAX_FAILURES_PER_CLIENT,
      maxFailuresPerAddress: env.LOGIN_MAX_FAILURES_PER_IP,
      windowSeconds: env.LOGIN_FAILURE_WINDOW_SECONDS,
    });
  }

  /** @returns the attempt, or the seconds to wait when the address is locked out */
  async begin(address: string): Promise<LoginAttempt | { retryAfterSeconds: number }> {
    const addressKey = loginAddressKey(address);
    const waitMs = await this.store.waitMs('address', addressKey, this.limits.maxFailuresPerAddress, this.windowMs);
    if (waitMs > 0) return { retryAfterSeconds: seconds(waitMs) };
    const id = await this.store.add('address', addressKey, this.windowMs);
    return {
      succeeded: async (clientId) => {
        await this.store.remove(id);
        await this.store.clear('client', clientId);
      },
      failed: async (clientId) => {
        if (clientId === null) return null;
        const clientWaitMs = await this.store.waitMs('client', clientId, this.limits.maxFailuresPerClient, this.windowMs);
        await this.store.add('client', clientId, this.windowMs);
        return clientWaitMs > 0 ? seconds(clientWaitMs) : null;
      },
      undecided: () => this.store.remove(id),
    };
  }
}

const seconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));
