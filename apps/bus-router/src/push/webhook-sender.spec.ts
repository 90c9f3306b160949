import { Server, ServerResponse, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
import { eventually } from '@purple/testing';
import { testConfig } from '../../test/doubles';
import { MAX_WEBHOOK_RESPONSE_BYTES, WebhookSender } from './webhook-sender';

/** A receiver that answers its headers at once, then does `body` with the response (and never ends it itself). */
async function serveBody(body: (res: ServerResponse) => void): Promise<{ server: Server; port: number; closed: () => boolean; written: () => number }> {
  let closed = false;
  let written = 0;
  const server = createServer((req, res) => {
    req.resume();
    res.on('close', () => (closed = true));
    const write = res.write.bind(res);
    res.write = ((chunk: Buffer, ...rest: never[]) => {
      written += chunk.length;
      return write(chunk, ...rest);
    }) as typeof res.write;
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.flushHeaders();
      body(res);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, closed: () => closed, written: () => written };
}

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

  it('keeps its deadline over the body too: headers then a body that never ends time out, and the socket closes (issue 12 #10)', async () => {
    const receiver = await serveBody((res) => res.write('a little, then nothing'));
    servers.push(receiver.server);
    const sender = new WebhookSender(testConfig({ WEBHOOK_ALLOWLIST: '127.0.0.1', WEBHOOK_TIMEOUT_MS: '300' }));
    const started = Date.now();
    expect(await post(sender, `http://127.0.0.1:${receiver.port}/`)).toEqual({ outcome: 'timed-out' });
    expect(Date.now() - started).toBeLessThan(5_000);
    await eventually(async () => receiver.closed(), 5_000, 20);
  });

  it('reads at most MAX_WEBHOOK_RESPONSE_BYTES of an endless body, then closes the connection (issue 12 #10)', async () => {
    const chunk = Buffer.alloc(16 * 1024, 'x');
    const receiver = await serveBody((res) => {
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      pump();
    });
    servers.push(receiver.server);
    // a long deadline: only the byte cap can end this exchange quickly
    const sender = new WebhookSender(testConfig({ WEBHOOK_ALLOWLIST: '127.0.0.1', WEBHOOK_TIMEOUT_MS: '60000' }));
    expect(await post(sender, `http://127.0.0.1:${receiver.port}/`)).toEqual({ outcome: 'answered', status: 200 });
    await eventually(async () => receiver.closed(), 5_000, 20);
    // what the kernel buffers aside, the receiver could not push much more than the cap
    expect(receiver.written()).toBeLessThan(MAX_WEBHOOK_RESPONSE_BYTES + 8 * 1024 * 1024);
  });
});
