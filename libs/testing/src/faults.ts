import { AddressInfo, Server, Socket, createConnection, createServer } from 'node:net';
import { ManagementApiError } from '@purple/topology';
import { BrokerNamespace } from './broker';

/**
 * Closes, through the management API, every connection the namespace's broker user `user` has open, as an operator
 * or a network fault would; only this namespace's user is matched, so nobody else's connection is touched. The API
 * lists connections with a delay, so this waits (bounded) until it has closed at least one. Resolves with how many.
 */
export async function closeConnectionsOf(broker: BrokerNamespace, user: string, timeoutMs = 30_000): Promise<number> {
  const management = broker.management();
  const name = broker.user(user);
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const connections = await management.get<Array<{ name: string; user: string }>>('/api/connections');
    const closed = await Promise.all(
      connections
        .filter((c) => c.user === name)
        .map((c) =>
          management.request('DELETE', `/api/connections/${encodeURIComponent(c.name)}`).then(
            () => 1,
            (error: unknown) => {
              // listed, but already gone
              if (error instanceof ManagementApiError && error.status === 404) return 0;
              throw error;
            },
          ),
        ),
    );
    const count = closed.reduce<number>((sum, n) => sum + n, 0);
    if (count > 0) return count;
    if (Date.now() > deadline) throw new Error(`no connection of ${name} to close within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** A promise the test settles: a handler that waits on it is "still running" until `release()`. */
export class Hold {
  readonly promise: Promise<void>;
  release!: () => void;

  constructor() {
    this.promise = new Promise<void>((resolve) => (this.release = resolve));
  }
}

/**
 * A TCP proxy the test controls, standing in for the network between an app and a server (PostgreSQL): `cut()`
 * drops every open connection and refuses new ones (accepted, then closed at once, and counted), `restore()` lets
 * them through again. The real server is never touched.
 */
export class TcpProxy {
  private readonly sockets = new Set<Socket>();
  private open = true;
  /** connections let through */
  accepted = 0;
  /** connections refused while cut */
  refused = 0;

  private constructor(
    private readonly server: Server,
    private readonly target: { host: string; port: number },
  ) {}

  static async start(target: { host: string; port: number }): Promise<TcpProxy> {
    const server = createServer();
    const proxy = new TcpProxy(server, target);
    server.on('connection', (client) => proxy.accept(client));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** `url` (a postgres:// URL) with its host and port replaced by the proxy's */
  route(url: string): string {
    const routed = new URL(url);
    routed.hostname = '127.0.0.1';
    routed.port = String(this.port);
    return routed.toString();
  }

  cut(): void {
    this.open = false;
    for (const socket of this.sockets) socket.destroy();
    this.sockets.clear();
  }

  restore(): void {
    this.open = true;
  }

  async close(): Promise<void> {
    this.cut();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (!this.open) {
      this.refused++;
      client.destroy();
      return;
    }
    this.accepted++;
    const upstream = createConnection(this.target);
    this.sockets.add(client).add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      this.sockets.delete(client);
      this.sockets.delete(upstream);
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}
