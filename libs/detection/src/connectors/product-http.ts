import { backoffDelay } from '@purple/platform';
import { Clock, systemClock } from '../semantics/clock';
import { ConnectorError } from './connector';
import { HttpAnswer, HttpCall, retryAfterMs, sendHttp } from './http-client';

export interface ProductCallOptions {
  /** the product's name in errors, e.g. `elasticsearch` */
  product: string;
  /** the time this search may take in all (the task's `query.timeout_seconds`), rate-limit waits included */
  timeoutMs: number;
  /** the longest Retry-After waited for within one search; a longer one is left to the next interval */
  maxRetryAfterMs: number;
  clock?: Clock;
  /** the product's own explanation of a failed request, read from its body (no credentials in it) */
  describeError?: (answer: HttpAnswer) => string | undefined;
  /** the wait a product asks for in a header of its own (CrowdStrike's X-RateLimit-RetryAfter), before Retry-After */
  retryAfter?: (answer: HttpAnswer, now: number) => number | undefined;
}

/**
 * A failure the product answered with an HTTP status (as opposed to a network failure): the status lets a caller
 * tell a stale token (401) or a refused credential apart from other refusals.
 */
export class ProductHttpError extends ConnectorError {
  constructor(
    message: string,
    retryable: boolean,
    readonly status: number,
    retryAfterMs?: number,
  ) {
    super(message, retryable, retryAfterMs);
  }
}

/**
 * One request to a SIEM/EDR with the failure handling every connector shares, so each product behaves the same:
 * - 2xx: the answer;
 * - 401/403: one final error (a wrong credential never becomes a retry storm);
 * - 429, and 503 with Retry-After: waits for Retry-After (or a short backoff) and asks again when that fits in the
 *   search's time and the bound, else a retryable error that carries the wait for the next interval;
 * - other 5xx: retryable; other 4xx: final, with the product's reason.
 * Network failures are retryable (see {@link sendHttp}).
 */
export async function callProduct(call: HttpCall, options: ProductCallOptions): Promise<HttpAnswer> {
  const clock = options.clock ?? systemClock;
  const startedAt = clock.now();
  for (let rateLimited = 0; ; rateLimited++) {
    const answer = await sendHttp(options.product, call);
    if (answer.status >= 200 && answer.status < 300) return answer;
    if (answer.status === 401 || answer.status === 403) {
      throw new ProductHttpError(`${options.product} refused the credentials (HTTP ${answer.status})`, false, answer.status);
    }
    const askedToWait = options.retryAfter?.(answer, clock.now()) ?? retryAfterMs(answer.headers['retry-after'], clock.now());
    // 503 is a rate limit only when it says how long to wait; otherwise a server error like the other 5xx
    if (answer.status === 429 || (answer.status === 503 && askedToWait !== undefined)) {
      const wait = askedToWait ?? backoffDelay(rateLimited, 500, 5000);
      const timeLeft = options.timeoutMs - (clock.now() - startedAt);
      if (wait > options.maxRetryAfterMs || wait >= timeLeft) {
        throw new ProductHttpError(
          `${options.product} is rate limiting (HTTP ${answer.status}) and asked to wait ${Math.ceil(wait / 1000)} s`,
          true,
          answer.status,
          wait,
        );
      }
      await clock.sleep(wait, call.signal);
      continue;
    }
    const reason = describeSafely(options.describeError, answer);
    const detail = reason ? `: ${reason.slice(0, 500)}` : '';
    if (answer.status >= 500) throw new ProductHttpError(`${options.product} answered HTTP ${answer.status}${detail}`, true, answer.status);
    throw new ProductHttpError(`${options.product} refused the request (HTTP ${answer.status})${detail}`, false, answer.status);
  }
}

/**
 * The answer's body as JSON. A body that is not JSON (a proxy's HTML page, a cut-off answer) is a final error: the
 * product answered, but not something a connector can read.
 */
export function jsonBodyOf(product: string, answer: HttpAnswer): unknown {
  if (answer.truncated) throw new ConnectorError(`${product} returned a response larger than the connector reads`, false);
  try {
    return JSON.parse(answer.body);
  } catch {
    throw new ConnectorError(`${product} returned a malformed response: the body is not JSON`, false);
  }
}

/** The answer's body as a JSON object, or a final "malformed response" error naming what was expected. */
export function jsonObjectOf(product: string, answer: HttpAnswer, what = 'a JSON object'): Record<string, unknown> {
  const body = jsonBodyOf(product, answer);
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new ConnectorError(`${product} returned a malformed response: expected ${what}`, false);
  }
  return body as Record<string, unknown>;
}

function describeSafely(describe: ProductCallOptions['describeError'], answer: HttpAnswer): string | undefined {
  try {
    return describe?.(answer)?.trim() || undefined;
  } catch {
    return undefined;
  }
}
