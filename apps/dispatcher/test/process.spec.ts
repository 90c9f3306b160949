import { CHECKING_EXCHANGE, CHECKING_VHOST } from '@purple/topology';
import { BrokerNamespace, TestDatabase, createBrokerNamespace, createTestDatabase, eventually, freePort, runApp, databaseEnv } from '@purple/testing';

/**
 * The app as a real process (as `nx serve` and the containers run it): configuration errors, missing broker
 * objects and SIGTERM are about the process, its exit code and what it prints.
 */
describe('dispatcher process', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
  });
  afterAll(async () => {
    await Promise.all([broker?.dispose(), db?.drop()]);
  });

  it('refuses to start without DISPATCHER_DATABASE_URL, naming it, with exit code 1', async () => {
    const run = runApp('dispatcher', { ...broker.env() });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('DISPATCHER_DATABASE_URL is missing');
  });

  it('refuses to start without its broker password, naming the variable', async () => {
    const { CHECKING_DISPATCHER_PASSWORD: _omitted, ...env } = broker.env();
    const run = runApp('dispatcher', { ...env, ...databaseEnv(db.url) });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('CHECKING_DISPATCHER_PASSWORD is missing');
    expect(run.output()).not.toContain(broker.password('checking_dispatcher'));
  });

  it('stops cleanly with exit code 0 on SIGTERM once running', async () => {
    const port = await freePort();
    const run = runApp('dispatcher', { ...broker.env(), ...databaseEnv(db.url), PORT: String(port) });
    try {
      await eventually(async () => (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200, 45_000, 250);
      run.child.kill('SIGTERM');
      expect(await run.exited).toBe(0);
      expect(run.output()).not.toContain(broker.password('checking_dispatcher'));
    } finally {
      run.child.kill('SIGKILL');
    }
  });

  it('stops with exit code 1 and names the missing object when its exchange does not exist', async () => {
    const other = await createBrokerNamespace();
    try {
      await other.management('caldera_admin').delete(`/api/exchanges/${encodeURIComponent(other.vhost(CHECKING_VHOST))}/${encodeURIComponent(CHECKING_EXCHANGE)}`);
      const run = runApp('dispatcher', { ...other.env(), ...databaseEnv(db.url), PORT: String(await freePort()) });
      const code = await run.exited;
      expect(code).toBe(1);
      expect(run.output()).toContain(`exchange ${CHECKING_EXCHANGE}`);
      expect(run.output()).toContain('npm run provision');
    } finally {
      await other.dispose();
    }
  });
});
