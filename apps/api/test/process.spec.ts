import { BrokerNamespace, TestDatabase, createBrokerNamespace, createTestDatabase, eventually, runApp } from '@purple/testing';
import WebSocket from 'ws';
import { ADMIN_ID, ApiClient, apiEnv, unusedPort, createClient } from './support';

/**
 * The api as a real process, started by main.ts as `nx serve` and the container start it: the HTTP set-up done
 * there (body limit, Swagger), configuration errors, and a clean SIGTERM with a WebSocket open.
 */
describe('api process', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
  }, 60_000);
  afterAll(() => Promise.all([broker?.dispose(), db?.drop()]), 60_000);

  it('refuses to start without its secrets, naming each variable and never a value, with exit code 1', async () => {
    const { TOKEN_SIGNING_KEY: _key, WEBHOOK_SECRET_KEY: _webhook, ...env } = apiEnv(broker, db.url);
    const run = runApp('api', { ...env, TOKEN_SIGNING_KEY: 'short' });
    expect(await run.exited).toBe(1);
    expect(run.output()).toContain('TOKEN_SIGNING_KEY is malformed (TOKEN_SIGNING_KEY must be at least 32 characters)');
    expect(run.output()).toContain('WEBHOOK_SECRET_KEY is missing');
    expect(run.output()).not.toContain(env['ADMIN_CLIENT_SECRET']);
  }, 60_000);

  it('serves with the body limit and Swagger of main.ts, and stops with exit code 0 on SIGTERM while a stream is open', async () => {
    const port = await unusedPort();
    const env = apiEnv(broker, db.url, { PORT: String(port), LOG_LEVEL: 'info' });
    const run = runApp('api', env);
    try {
      const api = new ApiClient(`http://127.0.0.1:${port}`);
      await eventually(async () => (await fetch(`${api.url}/health/ready`)).status === 200, 60_000, 250);
      expect((await api.request('GET', '/docs-json')).status).toBe(200);
      const admin = await api.adminToken(env);
      const client = await createClient(api, admin, { client_id: 'proc-client', subscription: 'soar.#' });
      const tooBig = await api.request('POST', '/send', { token: client.token, json: { topic: 'soar.x', message: 'x'.repeat(20_000) } });
      expect(tooBig.status).toBe(413);

      const ws = new WebSocket(`ws://127.0.0.1:${port}/stream`, { headers: { authorization: `Bearer ${client.token}` } });
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
      run.child.kill('SIGTERM');
      expect(await closed).toBe(1001);
      expect(await run.exited).toBe(0);
      for (const secret of [env['TOKEN_SIGNING_KEY'], env['ADMIN_CLIENT_SECRET'], env['WEBHOOK_SECRET_KEY'], env['SOAR_API_PASSWORD'], client.secret, client.token]) {
        expect(run.output()).not.toContain(secret);
      }
      expect(run.output()).toContain(`admin client ${ADMIN_ID} is ready`);
    } finally {
      run.child.kill('SIGKILL');
    }
  }, 120_000);
});
