import 'reflect-metadata';
import { CommonEnv, ConfigError, loadConfig } from '@purple/platform';
import { CalderaBridgeModule } from './app.module';
import { CalderaBridgeEnv, bridgeSettingsOf } from './bridge-env';

const BASE = {
  DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/purple',
  CALDERA_PUBLISHER_PASSWORD: 'x',
  CALDERA_URL: 'https://caldera.example:8888/',
  CALDERA_API_KEY: 'secret-red-key',
};

const register = (env: Record<string, string>) => () => CalderaBridgeModule.register(loadConfig(CommonEnv, env));

describe('caldera-bridge configuration', () => {
  it('reads Caldera, the poll interval (default 10 s) and the operations filter', () => {
    expect(bridgeSettingsOf(loadConfig(CalderaBridgeEnv, BASE))).toEqual({
      calderaUrl: 'https://caldera.example:8888',
      apiKey: 'secret-red-key',
      verifyTls: true,
      pollIntervalMs: 10_000,
      requestTimeoutMs: 30_000,
      operations: [],
    });
    const custom = loadConfig(CalderaBridgeEnv, {
      ...BASE,
      CALDERA_VERIFY_TLS: 'false',
      CALDERA_BRIDGE_POLL_INTERVAL_MS: '2500',
      CALDERA_BRIDGE_OPERATIONS: ' purple-discovery , 6a1d2c3e-0000-4000-8000-000000000001 ,',
    });
    expect(bridgeSettingsOf(custom)).toMatchObject({
      verifyTls: false,
      pollIntervalMs: 2500,
      operations: ['purple-discovery', '6a1d2c3e-0000-4000-8000-000000000001'],
    });
  });

  it.each(['CALDERA_URL', 'CALDERA_API_KEY'])('stops start-up naming %s when it is missing', (name) => {
    const env: Record<string, string> = { ...BASE };
    delete env[name];
    expect(register(env)).toThrow(ConfigError);
    expect(register(env)).toThrow(new RegExp(`${name} is missing`));
  });

  it('refuses a Caldera URL with credentials in it, or not http(s), without printing it', () => {
    for (const url of ['https://red:admin@caldera.example:8888', 'ftp://caldera.example']) {
      const attempt = register({ ...BASE, CALDERA_URL: url });
      expect(attempt).toThrow(/CALDERA_URL is malformed/);
      expect(attempt).not.toThrow(/red:admin|ftp:/);
    }
  });

  it('refuses a malformed poll interval or TLS switch, naming the variable', () => {
    expect(register({ ...BASE, CALDERA_BRIDGE_POLL_INTERVAL_MS: 'often' })).toThrow(/CALDERA_BRIDGE_POLL_INTERVAL_MS is malformed/);
    expect(register({ ...BASE, CALDERA_BRIDGE_POLL_INTERVAL_MS: '10' })).toThrow(/CALDERA_BRIDGE_POLL_INTERVAL_MS is malformed/);
    expect(register({ ...BASE, CALDERA_VERIFY_TLS: 'no' })).toThrow(/CALDERA_VERIFY_TLS is malformed/);
  });
});
