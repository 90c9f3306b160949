import 'reflect-metadata';
import { ConfigError } from '@purple/platform';
import { loadApiEnv } from '../app.module';

const complete = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/purple',
  TOKEN_SIGNING_KEY: 'k'.repeat(32),
  ADMIN_CLIENT_ID: 'admin',
  ADMIN_CLIENT_SECRET: 's'.repeat(16),
  WEBHOOK_SECRET_KEY: 'w'.repeat(16),
  SOAR_ADMIN_PASSWORD: 'p',
};
const problems = (env: Record<string, string | undefined>) => {
  try {
    loadApiEnv(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.message;
    throw error;
  }
  return 'no error';
};

describe('the api configuration', () => {
  it('has defaults for everything but the secrets', () => {
    expect(loadApiEnv(complete)).toMatchObject({ TOKEN_TTL_SECONDS: 3600, MAX_BODY_BYTES: 262_144, WEBHOOK_ALLOW_PRIVATE: 'false', LOGIN_MAX_FAILURES_PER_CLIENT: 5 });
  });

  it('names each missing or malformed variable, never its value', () => {
    expect(problems({ ...complete, TOKEN_SIGNING_KEY: undefined, ADMIN_CLIENT_SECRET: undefined })).toMatch(/TOKEN_SIGNING_KEY is missing.*ADMIN_CLIENT_SECRET is missing/);
    const short = problems({ ...complete, TOKEN_SIGNING_KEY: 'too-short-a-key' });
    expect(short).toMatch(/TOKEN_SIGNING_KEY is malformed \(TOKEN_SIGNING_KEY must be at least 32 characters\)/);
    expect(short).not.toContain('too-short-a-key');
    expect(problems({ ...complete, ADMIN_CLIENT_ID: 'Admin!' })).toMatch(/ADMIN_CLIENT_ID is malformed/);
    expect(problems({ ...complete, WEBHOOK_ALLOW_PRIVATE: 'yes' })).toMatch(/WEBHOOK_ALLOW_PRIVATE is malformed/);
    expect(problems({ ...complete, WEBHOOK_ALLOWLIST: '10.0.0.0/8, not_a host' })).toMatch(/WEBHOOK_ALLOWLIST is malformed/);
    expect(problems({ ...complete, SEND_RATE_PER_SECOND: '0' })).toMatch(/SEND_RATE_PER_SECOND is malformed/);
    expect(problems({ ...complete, SEND_RATE_PER_SECOND: 'fast' })).toMatch(/SEND_RATE_PER_SECOND is malformed/);
    expect(problems({ ...complete, SEND_BYTES_IN_FLIGHT: '2048' })).toMatch(/SEND_BYTES_IN_FLIGHT is malformed \(it must be at least MAX_BODY_BYTES, 262144\)/);
    expect(loadApiEnv({ ...complete, SEND_RATE_PER_SECOND: '5', SEND_BYTES_IN_FLIGHT: '300000' })).toMatchObject({ SEND_RATE_PER_SECOND: 5, SEND_BYTES_IN_FLIGHT: 300_000 });
    expect(problems({ ...complete, TRUSTED_PROXIES: '10.0.0.0/8, ingress.local, ::1/129' })).toMatch(/TRUSTED_PROXIES is malformed \(.*: ingress.local, ::1\/129\)/);
    expect(loadApiEnv({ ...complete, TRUSTED_PROXIES: 'loopback, 10.0.0.0/8, fd00::/8' }).trustedProxies).toEqual(['loopback', '10.0.0.0/8', 'fd00::/8']);
  });

  it('exposes the docs only in development unless EXPOSE_DOCS says, and keeps METRICS_PORT off PORT', () => {
    expect(loadApiEnv(complete).docsExposed).toBe(false);
    expect(loadApiEnv({ ...complete, NODE_ENV: 'production' }).docsExposed).toBe(false);
    expect(loadApiEnv({ ...complete, NODE_ENV: 'development' }).docsExposed).toBe(true);
    expect(loadApiEnv({ ...complete, NODE_ENV: 'development', EXPOSE_DOCS: 'false' }).docsExposed).toBe(false);
    expect(loadApiEnv({ ...complete, EXPOSE_DOCS: 'true' }).docsExposed).toBe(true);
    expect(problems({ ...complete, EXPOSE_DOCS: 'yes' })).toMatch(/EXPOSE_DOCS is malformed \(EXPOSE_DOCS must be true or false\)/);
    expect(problems({ ...complete, PORT: '8080', METRICS_PORT: '8080' })).toMatch(/METRICS_PORT is malformed \(METRICS_PORT must differ from PORT\)/);
    expect(problems({ ...complete, METRICS_PORT: '70000' })).toMatch(/METRICS_PORT is malformed/);
    expect(loadApiEnv({ ...complete, PORT: '8080', METRICS_PORT: '9100' })).toMatchObject({ METRICS_PORT: 9100 });
  });
});
