import { BrokerNamespace, TestDatabase, createBrokerNamespace, createTestDatabase, eventually, freePort, runApp, databaseEnv } from '@purple/testing';
import { FakeCaldera } from './fake-caldera';

const KEY = 'process-test-caldera-key';

/** The bridge as a real process: a configuration error, and SIGTERM while a request to Caldera hangs. */
describe('caldera-bridge process', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let caldera: FakeCaldera;
  beforeAll(async () => {
    [broker, db, caldera] = await Promise.all([createBrokerNamespace(), createTestDatabase(), FakeCaldera.start(KEY)]);
  });
  afterAll(async () => {
    await caldera?.close();
    await Promise.all([broker?.dispose(), db?.drop()]);
  });

  it('refuses to start without CALDERA_URL, naming it, with exit code 1 and without printing the key', async () => {
    const run = runApp('caldera-bridge', { ...broker.env(), ...databaseEnv(db.url), CALDERA_API_KEY: KEY });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('CALDERA_URL is missing');
    expect(run.output()).not.toContain(KEY);
  });

  it('stops at once with exit code 0 on SIGTERM while Caldera does not answer', async () => {
    caldera.server.handler = () => ({ hang: true });
    const port = await freePort();
    const run = runApp('caldera-bridge', {
      ...broker.env(),
      ...databaseEnv(db.url),
      PORT: String(port),
      CALDERA_URL: caldera.url,
      CALDERA_API_KEY: KEY,
      CALDERA_REQUEST_TIMEOUT_MS: '600000',
    });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200, 45_000, 250);
      // a poll is waiting for Caldera's operations
      await eventually(async () => caldera.requestsTo('/api/v2/operations').length > 0);
      const stoppedAt = Date.now();
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(Date.now() - stoppedAt).toBeLessThan(10_000);
      expect(run.output()).not.toContain(KEY);
    } finally {
      run.child.kill('SIGKILL');
    }
  });
});
