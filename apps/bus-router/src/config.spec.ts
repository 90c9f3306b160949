import 'reflect-metadata';
import { CommonEnv, ConfigError, loadConfig } from '@purple/platform';
import { BusRouterEnv, loadBusRouterEnv } from './config';

const base = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/purple', WEBHOOK_SECRET_KEY: 'a-key-of-sixteen-chars' };
const load = (env: Record<string, string>) => loadBusRouterEnv(loadConfig(CommonEnv, env));

describe('bus-router configuration', () => {
  it('has defaults for everything but the secret key', () => {
    const config = load(base);
    expect(config).toBeInstanceOf(BusRouterEnv);
    expect(config).toMatchObject({ WEBHOOK_TIMEOUT_MS: 10_000, WEBHOOK_MAX_ATTEMPTS: 8, WEBHOOK_ALLOW_PRIVATE: false, ROUTER_RECONCILE_INTERVAL_MS: 30_000, ROUTER_INBOX_FULL_RETRY_MS: 300_000 });
    expect(config.webhookAllowlist).toEqual([]);
  });

  it('names a missing or malformed variable', () => {
    expect(() => load({ DATABASE_URL: base.DATABASE_URL })).toThrow(new ConfigError(['WEBHOOK_SECRET_KEY is missing']));
    expect(() => load({ ...base, WEBHOOK_MAX_ATTEMPTS: 'lots' })).toThrow(/WEBHOOK_MAX_ATTEMPTS is malformed/);
    expect(() => load({ ...base, WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/WEBHOOK_ALLOW_PRIVATE is malformed \(WEBHOOK_ALLOW_PRIVATE must be true or false\)/);
    expect(() => load({ ...base, ROUTER_INBOX_FULL_RETRY_MS: 'soon' })).toThrow(/ROUTER_INBOX_FULL_RETRY_MS is malformed/);
    expect(() => load({ ...base, ROUTER_INBOX_FULL_RETRY_MS: '50' })).toThrow(/ROUTER_INBOX_FULL_RETRY_MS/);
    expect(() => load({ ...base, ROUTER_INBOX_FULL_RETRY_MS: '7200000' })).toThrow(/ROUTER_INBOX_FULL_RETRY_MS/);
    expect(() => load({ ...base, WEBHOOK_ALLOWLIST: '10.0.0.0/8, http://x' })).toThrow(/WEBHOOK_ALLOWLIST is malformed \(allowlist entry "http:\/\/x"/);
  });

  it('reads the switches and the allowlist', () => {
    expect(load({ ...base, WEBHOOK_ALLOW_PRIVATE: 'true' }).WEBHOOK_ALLOW_PRIVATE).toBe(true);
    expect(load({ ...base, WEBHOOK_ALLOW_PRIVATE: 'false' }).WEBHOOK_ALLOW_PRIVATE).toBe(false);
    expect(load({ ...base, WEBHOOK_ALLOWLIST: '127.0.0.0/8, ::1 hooks.internal' }).webhookAllowlist).toEqual(['127.0.0.0/8', '::1', 'hooks.internal']);
  });
});
