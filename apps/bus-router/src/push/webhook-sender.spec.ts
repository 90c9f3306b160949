import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { testConfig } from '../../test/doubles';
import { WebhookSender } from './webhook-sender';

/** A real HTTP server on loopback, answering with `status` after `delayMs`. */
async function serve(status: number, delayMs = 0): Promise<{ server: Server; port: number; bodies: string[] }> {
  const bodies: string[] = [];
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      bodies.push(body);
      setTimeout(() => res.writeHead(status).end(), delayMs).unref();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, bodies };
}

const post = (sender: WebhookSender, url: string) =>
  sender.post({ url, body: Buffer.from('{"a":1}'), headers: { 'webhook-id': 'x', 'webhook-timestamp': '1', 'webhook-signature': 'v1,x' } });

describe('WebhookSender', () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const server of servers) {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('resolves a host name, checks the answers and connects to them (localhost, allowlisted)', async () => {
    const { server, port, bodies } = await serve(201);
    servers.push(server);
    const sender = new WebhookSender(testConfig({ WEBHOOK_ALLOWLIST: '127.0.0.0/8,::1' }));
    expect(await post(sender, `http://localhost:${port}/hook?x=1`)).toEqual({ outcome: 'answered', status: 201 });
    expect(bodies).toEqual(['{"a":1}']);
  });

  it('refuses a host name that resolves to loopback when nothing is allowlisted, without connecting', async () => {
    const { server, port, bodies } = await serve(200);
    servers.push(server);
    const response = await post(new WebhookSender(testConfig()), `http://localhost:${port}/`);
    expect(response).toMatchObject({ outcome: 'refused', reason: expect.stringMatching(/^webhook URL host localhost resolves to .*, which is a loopback address/) });
    expect(bodies).toEqual([]);
  });

  it('connects anywhere with WEBHOOK_ALLOW_PRIVATE=true', async () => {
    const { server, port } = await serve(204);
    servers.push(server);
    expect(await post(new WebhookSender(testConfig({ WEBHOOK_ALLOW_PRIVATE: 'true' })), `http://127.0.0.1:${port}/`)).toEqual({ outcome: 'answered', status: 204 });
  });

  it('gives up on a receiver slower than WEBHOOK_TIMEOUT_MS, and reports a refused connection', async () => {
    const { server, port } = await serve(200, 2_000);
    servers.push(server);
    const sender = new WebhookSender(testConfig({ WEBHOOK_ALLOWLIST: '127.0.0.1', WEBHOOK_TIMEOUT_MS: '200' }));
    expect(await post(sender, `http://127.0.0.1:${port}/`)).toEqual({ outcome: 'timed-out' });
    expect(await post(sender, 'http://127.0.0.1:1/')).toEqual({ outcome: 'failed', reason: 'ECONNREFUSED' });
  });
});
