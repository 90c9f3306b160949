import { AddressInfo, Server, Socket, createConnection, createServer } from 'node:net';
import { BrokerNamespace } from './broker';

/**
 * Closes, through the management API, every connection the namespace's broker user `user` has open, as an operator
 * or a network fault would. Only this namespace's users exist in the name filter, so nobody else's connection is
 * touched. Resolves with how many were closed.
 */
export async function closeConnectionsOf(broker: BrokerNamespace, user: string): Promise<number> {
  const management = broker.management();
  const name = broker.user(user);
  const connections = await management.get<Array<{ name: string; user: string }>>('/api/connections');
  const mine = connections.filter((c) => c.user === name);
  await Promise.all(mine.map((c) => management.delete(`/api/connections/${encodeURIComponent(c.name)}`, { ignoreMissing: true })));
  return mine.length;
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
