import 'reflect-metadata';
import { Clock, systemClock } from '../../semantics/clock';
import { ConnectorError } from '../connector';
import { HttpAnswer } from '../http-client';
import { callProduct, jsonObjectOf, ProductCallOptions, ProductHttpError } from '../product-http';

/** a token response is small; anything larger is not one */
const MAX_TOKEN_RESPONSE_BYTES = 64 * 1024;
/** used when the token endpoint does not say how long its token lives (RFC 6749 only recommends `expires_in`) */
const DEFAULT_LIFETIME_MS = 5 * 60 * 1000;
/** a token is replaced this long before it expires (at most a tenth of its lifetime), so no search sends a dying one */
const MAX_REFRESH_MARGIN_MS = 60 * 1000;
/**
 * A refused credential is remembered this long: a burst of tasks then gets the same answer instead of each asking
 * the identity provider again (which may lock the client out). Short, because a new secret can take a minute or
 * two to reach every region of Entra ID.
 */
const REFUSAL_MEMORY_MS = 60 * 1000;

export interface ClientCredentialsGrant {
  /** the product's name in errors, e.g. `crowdstrike` */
  product: string;
  /** the token endpoint, e.g. `https://api.crowdstrike.com/oauth2/token` */
  tokenUrl: URL;
  /** the form the endpoint documents: `client_id`, `client_secret`, and `grant_type`/`scope` where it wants them */
  form: Record<string, string>;
  /** the client secret: it is removed from any text the token endpoint answers, should the endpoint echo it */
  secret: string;
  verifyTls: boolean;
  maxRetryAfterMs: number;
  /** the endpoint's own explanation of a refusal (`error_description`, `errors[].message`) */
  describeError?: (answer: HttpAnswer) => string | undefined;
  retryAfter?: ProductCallOptions['retryAfter'];
  clock?: Clock;
}

interface CachedToken {
  value: string;
  /** when to fetch a new one: a margin before the endpoint's expiry */
  refreshAt: number;
}

/**
 * An OAuth2 client-credentials access token for one API client, shared by every search the connector runs:
 * - fetched with one form POST and kept until shortly before its `expires_in`;
 * - single-flight: searches that need a token while one is being fetched wait for that fetch;
 * - a 401 from the product API drops the token and the search is tried once more with a fresh one (the token was
 *   revoked or expired early);
 * - 400/401/403 from the token endpoint is a final "refused the client credentials" error; 429 and 5xx are
 *   retryable (see {@link callProduct}).
 * The secret is only ever sent to the token endpoint; it is never logged nor part of an error.
 */
export class ClientCredentialsToken {
  private cached?: CachedToken;
  private fetching?: Promise<CachedToken>;
  private refusal?: { error: ConnectorError; until: number };
  private readonly clock: Clock;

  constructor(private readonly grant: ClientCredentialsGrant) {
    this.clock = grant.clock ?? systemClock;
  }

  /**
   * Runs `call` with `Authorization: Bearer <token>`; when the product answers 401 (the token was revoked or expired
   * early) it fetches a new token and runs `call` once more.
   */
  async authorized<T>(signal: AbortSignal, timeoutMs: number, call: (authorization: string) => Promise<T>): Promise<T> {
    const token = await this.accessToken(signal, timeoutMs);
    try {
      return await call(`Bearer ${token}`);
    } catch (error) {
      if (!(error instanceof ProductHttpError && error.status === 401)) throw error;
      this.forget(token);
      const fresh = await this.accessToken(signal, timeoutMs);
      try {
        return await call(`Bearer ${fresh}`);
      } catch (again) {
        // a fresh token refused too: the client lacks access; the next search starts with a new token anyway
        if (again instanceof ProductHttpError && again.status === 401) this.forget(fresh);
        throw again;
      }
    }
  }

  /** A valid access token: the cached one, the one being fetched, or a new one. */
  async accessToken(signal: AbortSignal, timeoutMs: number): Promise<string> {
    const now = this.clock.now();
    if (this.cached && now < this.cached.refreshAt) return this.cached.value;
    if (this.refusal && now < this.refusal.until) throw this.refusal.error;
    if (!this.fetching) {
      // the fetch is not tied to the first caller's signal: another search waiting for it must not fail because the
      // first one was cancelled; it is bounded by its own timeout instead
      this.fetching = this.fetch(timeoutMs).finally(() => (this.fetching = undefined));
    }
    const token = await untilAborted(this.fetching, signal);
    return token.value;
  }

  /** Drops `token` if it is still the cached one (a concurrent search may already have replaced it). */
  forget(token: string): void {
    if (this.cached?.value === token) this.cached = undefined;
  }

  private async fetch(timeoutMs: number): Promise<CachedToken> {
    const requestedAt = this.clock.now();
    const timeout = AbortSignal.timeout(timeoutMs);
    // the endpoint's reason for the last refusal, for the "refused the client credentials" error
    let refusalReason: string | undefined;
    let answer: HttpAnswer;
    try {
      answer = await callProduct(
        {
          method: 'POST',
          url: this.grant.tokenUrl,
          headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' },
          body: new URLSearchParams(this.grant.form).toString(),
          signal: timeout,
          verifyTls: this.grant.verifyTls,
          maxBodyBytes: MAX_TOKEN_RESPONSE_BYTES,
        },
        {
          product: this.grant.product,
          timeoutMs,
          maxRetryAfterMs: this.grant.maxRetryAfterMs,
          clock: this.clock,
          describeError: (failed) => (refusalReason = this.withoutSecret(this.grant.describeError?.(failed)?.trim())),
          retryAfter: this.grant.retryAfter,
        },
      );
    } catch (error) {
      if (timeout.aborted) {
        throw new ConnectorError(`${this.grant.product} token request timed out after ${timeoutMs / 1000} s`, true);
      }
      throw this.tokenFailure(error, refusalReason);
    }
    const body = jsonObjectOf(this.grant.product, answer, 'an OAuth2 token response');
    const value = body['access_token'];
    if (typeof value !== 'string' || value === '') {
      throw new ConnectorError(`${this.grant.product} returned a malformed token response: no access_token`, false);
    }
    const tokenType = body['token_type'];
    if (tokenType !== undefined && !(typeof tokenType === 'string' && /^bearer$/i.test(tokenType))) {
      throw new ConnectorError(`${this.grant.product} returned a malformed token response: token_type is not bearer`, false);
    }
    const lifetimeMs = lifetimeOf(body['expires_in']);
    const margin = Math.min(MAX_REFRESH_MARGIN_MS, lifetimeMs / 10);
    this.cached = { value, refreshAt: requestedAt + lifetimeMs - margin };
    this.refusal = undefined;
    return this.cached;
  }

  /** A refusal of the credentials becomes one final, remembered error; everything else passes as it is. */
  private tokenFailure(error: unknown, reason: string | undefined): unknown {
    if (!(error instanceof ProductHttpError) || ![400, 401, 403].includes(error.status)) return error;
    const detail = reason ? `: ${reason.slice(0, 500)}` : '';
    const refused = new ConnectorError(`${this.grant.product} refused the client credentials (HTTP ${error.status})${detail}`, false);
    this.refusal = { error: refused, until: this.clock.now() + REFUSAL_MEMORY_MS };
    return refused;
  }

  private withoutSecret<T extends string | undefined>(text: T): T {
    if (text === undefined || this.grant.secret === '') return text;
    return text.split(this.grant.secret).join('[secret]') as T;
  }
}

/** `expires_in` as milliseconds: seconds, as a number or (older Entra ID endpoints) a numeric string. */
function lifetimeOf(expiresIn: unknown): number {
  const seconds = typeof expiresIn === 'number' ? expiresIn : typeof expiresIn === 'string' ? Number(expiresIn) : NaN;
  return Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : DEFAULT_LIFETIME_MS;
}

/** `promise`, or the signal's reason as soon as it fires (the promise itself goes on for its other waiters). */
function untilAborted<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
