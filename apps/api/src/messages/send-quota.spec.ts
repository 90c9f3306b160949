import { ApiEnv } from '../config/api-env';
import { QuotaUse, SendQuota, SendQuotaExceeded, admit } from './send-quota';

const limits = { ratePerSecond: 4, bytesInFlight: 1000 };
const fresh = (now = 0): QuotaUse => ({ tokens: limits.ratePerSecond, refilledAt: now, bytesInFlight: 0 });

describe('admit (per-client send quota)', () => {
  it('admits a burst of up to the rate, then refuses with the seconds until the next token', () => {
    const use = fresh();
    const answers = Array.from({ length: 6 }, () => admit(use, 0, 10, limits));
    expect(answers.map((a) => a.admitted)).toEqual([true, true, true, true, false, false]);
    expect(answers[4]).toEqual({ admitted: false, reason: 'more than 4 messages per second', retryAfterSeconds: 1 });
  });

  it('refills at the rate', () => {
    const use = fresh();
    for (let i = 0; i < 4; i++) admit(use, 0, 0, limits);
    expect(admit(use, 100, 0, limits).admitted).toBe(false);
    expect(admit(use, 250, 0, limits).admitted).toBe(true);
    expect(admit(use, 250, 0, limits).admitted).toBe(false);
    expect(admit(use, 10_000, 0, limits).admitted).toBe(true);
    expect(use.tokens).toBe(3); // never more than a burst of the rate
  });

  it('refuses while the bytes waiting for the broker would pass the limit, but always admits a lone message', () => {
    const use = fresh();
    expect(admit(use, 0, 600, limits).admitted).toBe(true);
    expect(admit(use, 0, 600, limits)).toEqual({ admitted: false, reason: 'more than 1000 bytes waiting for the broker', retryAfterSeconds: 1 });
    use.bytesInFlight = 0;
    expect(admit(use, 0, 5000, limits).admitted).toBe(true);
  });
});

describe('SendQuota', () => {
  const quota = () => new SendQuota({ SEND_RATE_PER_SECOND: 2, SEND_BYTES_IN_FLIGHT: 100 } as ApiEnv);

  it('counts each client on its own, and frees the bytes once released (once)', () => {
    const q = quota();
    const release = q.acquire('a', 80);
    expect(() => q.acquire('a', 30)).toThrow(SendQuotaExceeded);
    expect(() => q.acquire('b', 30)).not.toThrow();
    release();
    release();
    expect(() => q.acquire('a', 30)).not.toThrow();
    const error = (() => {
      try {
        q.acquire('a', 1);
      } catch (e) {
        return e as SendQuotaExceeded;
      }
    })();
    expect(error?.getStatus()).toBe(429);
    expect(error?.retryAfterSeconds).toBe(1);
  });
});
