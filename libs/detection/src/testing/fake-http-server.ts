import { createServer, IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** A request as a fake product server received it. */
export interface RecordedRequest {
  method: string;
  /** the path without the query string */
  path: string;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: string;
  receivedAt: number;
}

/** What a fake answers: a status with a body (objects are sent as JSON), or no answer at all (a request that hangs). */
export type FakeReply = { status: number; headers?: Record<string, string>; body?: unknown } | { hang: true };

export type FakeHandler = (request: RecordedRequest) => FakeReply | Promise<FakeReply>;

/**
 * The local HTTP server under every fake product (Elasticsearch, CrowdStrike, Sentinel, Caldera…): it records each
 * request and answers with `handler`, which a fake sets to speak its product's documented API and tests replace to
 * script failures. Listens on 127.0.0.1 on a free port.
 */
export class FakeHttpServer {
  readonly requests: RecordedRequest[] = [];

  private constructor(
    private readonly server: Server,
    public handler: FakeHandler,
  ) {}

  /** Starts on a free port; until `handler` is replaced, it answers 503. */
  static async start(handler: FakeHandler = () => ({ status: 503 })): Promise<FakeHttpServer> {
    const server = createServer();
    const fake = new FakeHttpServer(server, handler);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** the requests to one path (method optional) */
  requestsTo(path: string | RegExp, method?: string): RecordedRequest[] {
    return this.requests.filter(
      (r) => (typeof path === 'string' ? r.path === path : path.test(r.path)) && (method === undefined || r.method === method),
    );
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const url = new URL(req.url ?? '/', 'http://fake');
    const request: RecordedRequest = {
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      body: Buffer.concat(chunks).toString('utf8'),
      receivedAt: Date.now(),
    };
    this.requests.push(request);
    let reply: FakeReply;
    try {
      reply = await this.handler(request);
    } catch (error) {
      reply = { status: 500, body: { error: `fake failed: ${(error as Error).message}` } };
    }
    if ('hang' in reply) return;
    const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(body);
  }
}

/** A request's JSON body, or undefined when it is not JSON. */
export function jsonOf(request: RecordedRequest): any {
  try {
    return JSON.parse(request.body);
  } catch {
    return undefined;
  }
}
