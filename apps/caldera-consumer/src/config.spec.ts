import 'reflect-metadata';
import { CommonEnv, ConfigError, loadConfig } from '@purple/platform';
import { CalderaConsumerModule } from './app.module';
import { CheckingConsumerEnv } from '@purple/checking';

const BASE = { DATABASE_URL: 'postgres://postgres@127.0.0.1:5432/purple', CHECKING_CONSUMER_PASSWORD: 'x' };

describe('caldera-consumer configuration', () => {
  it('defaults to a 1 MiB message limit, and takes another', () => {
    expect(loadConfig(CheckingConsumerEnv, BASE)).toMatchObject({ MAX_MESSAGE_BYTES: 1_048_576, RETRY_MAX_DELAY_MS: 10_000 });
    expect(loadConfig(CheckingConsumerEnv, { ...BASE, MAX_MESSAGE_BYTES: '65536' }).MAX_MESSAGE_BYTES).toBe(65_536);
  });

  it('stops start-up naming a malformed variable', () => {
    const register = () => CalderaConsumerModule.register(loadConfig(CommonEnv, { ...BASE, MAX_MESSAGE_BYTES: 'lots' }));
    expect(register).toThrow(ConfigError);
    expect(register).toThrow(/MAX_MESSAGE_BYTES is malformed/);
  });
});
