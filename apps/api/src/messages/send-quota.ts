import { ArgumentsHost, Catch, ExceptionFilter, HttpException, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { ApiEnv } from '../config/api-env';

export interface QuotaLimits {
  ratePerSecond: number;
  bytesInFlight: number;
}

/** One client's use of its quota: a token bucket for the rate, and the bytes of its unconfirmed publishes. */
export interface QuotaUse {
  tokens: number;
  refilledAt: number;
  bytesInFlight: number;
}

export type Admission = { admitted: true } | { admitted: false; reason: string; retryAfterSeconds: number };

/** Whether one more message of `bytes` fits the quota at `now`; updates `use` when it does. */
export function admit(use: QuotaUse, now: number, bytes: number, limits: QuotaLimits): Admission {
  use.tokens = Math.min(limits.ratePerSecond, use.tokens + ((now - use.refilledAt) / 1000) * limits.ratePerSecond);
  use.refilledAt = now;
  if (use.tokens < 1) {
    const retryAfterSeconds = Math.max(1, Math.ceil((1 - use.tokens) / limits.ratePerSecond));
    return { admitted: false, reason: `more than ${limits.ratePerSecond} messages per second`, retryAfterSeconds };
  }
  // a lone message always fits (SEND_BYTES_IN_FLIGHT >= MAX_BODY_BYTES); the bytes free up with the broker's confirms
  if (use.bytesInFlight > 0 && use.bytesInFlight + bytes > limits.bytesInFlight) {
    return { admitted: false, reason: `more than ${limits.bytesInFlight} bytes waiting for the broker`, retryAfterSeconds: 1 };
  }
  use.tokens -= 1;
  use.bytesInFlight += bytes;
  return { admitted: true };
}

/** 429 with Retry-After: the client sends faster than its quota. */
export class SendQuotaExceeded extends HttpException {
  constructor(
    reason: string,
    readonly retryAfterSeconds: number,
  ) {
    super({ statusCode: 429, error: 'Too Many Requests', message: `send quota exceeded (${reason}): retry in ${retryAfterSeconds} s` }, 429);
  }
}

/** Writes SendQuotaExceeded with its Retry-After header. */
@Catch(SendQuotaExceeded)
export class SendQuotaExceededFilter implements ExceptionFilter {
  catch(error: SendQuotaExceeded, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    res.set('Retry-After', String(error.retryAfterSeconds));
    res.status(429).json(error.getResponse());
  }
}

/**
 * Per-client send quotas on this api replica (SEND_RATE_PER_SECOND, SEND_BYTES_IN_FLIGHT): a client that sends too
 * fast is told to slow down with 429 and Retry-After, before its queues fill and the broker refuses everyone's
 * publishes to them. Each replica counts on its own: N replicas admit up to N times the rate.
 */
@Injectable()
export class SendQuota {
  private readonly uses = new Map<string, QuotaUse>();
  private readonly limits: QuotaLimits;

  constructor(env: ApiEnv) {
    this.limits = { ratePerSecond: env.SEND_RATE_PER_SECOND, bytesInFlight: env.SEND_BYTES_IN_FLIGHT };
  }

  /**
   * Takes one message of `bytes` from the client's quota; call the answer once its publish is confirmed or failed.
   * @throws SendQuotaExceeded when over the rate or the bytes in flight
   */
  acquire(clientId: string, bytes: number): () => void {
    let use = this.uses.get(clientId);
    if (!use) {
      use = { tokens: this.limits.ratePerSecond, refilledAt: Date.now(), bytesInFlight: 0 };
      this.uses.set(clientId, use);
    }
    const admission = admit(use, Date.now(), bytes, this.limits);
    if (!admission.admitted) throw new SendQuotaExceeded(admission.reason, admission.retryAfterSeconds);
    const held = use;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      held.bytesInFlight -= bytes;
    };
  }
}
