import { describeServiceLifecycle } from '@purple/testing';
import { CalderaBridgeModule } from '../src/app.module';
import { FakeCaldera } from './fake-caldera';

let caldera: FakeCaldera;
beforeAll(async () => (caldera = await FakeCaldera.start('lifecycle-key')));
afterAll(() => caldera?.close());

describeServiceLifecycle('caldera-bridge', (env) => CalderaBridgeModule.register(env), () => ({
  CALDERA_URL: caldera.url,
  CALDERA_API_KEY: 'lifecycle-key',
}));
