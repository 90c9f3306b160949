import { IncomingHttpHeaders, Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';

export interface ReceivedRequest {
  path: string;
  method: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** What the receiver does with the n-th request (1-based) on a path: answer a status, after an optional delay. */
export type Behaviour = (attempt: number) => { status: number; delayMs?: number };

/** A webhook receiver on loopback, answering per path as told, recording every request. */
export class WebhookReceiver {
  readonly requests: ReceivedRequest[] = [];
  private readonly behaviours = new Map<string, Behaviour>();
  private readonly server: Server;

  private constructor() {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (chunk: Buffer) => chunks.push(chunk));
      req.on('end', () => {
        const path = req.url ?? '/';
        this.requests.push({ path, method: req.method ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        const behaviour: Behaviour = this.behaviours.get(path) ?? (() => ({ status: 404 }));
        const { status, delayMs } = behaviour(this.on(path).length);
        const answer = () => res.writeHead(status, { 'content-type': 'text/plain' }).end(`answered ${status}`);
        if (delayMs) setTimeout(answer, delayMs).unref();
        else answer();
      });
    });
  }

  static async start(): Promise<WebhookReceiver> {
    const receiver = new WebhookReceiver();
    await new Promise<void>((resolve) => receiver.server.listen(0, '127.0.0.1', resolve));
    return receiver;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** Registers a path and returns its URL on 127.0.0.1. */
  route(path: string, behaviour: Behaviour): string {
    this.behaviours.set(path, behaviour);
    return `http://127.0.0.1:${this.port}${path}`;
  }

  on(path: string): ReceivedRequest[] {
    return this.requests.filter((r) => r.path === path);
  }

  async stop(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
