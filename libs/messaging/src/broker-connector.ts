import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import type { Channel, ChannelModel } from 'amqplib';
import { HealthRegistry, backoffDelay, failFast } from '@purple/platform';
import { AppRole } from '@purple/topology';
import { APP_ROLE } from './tokens';

/**
 * Checks, on every (re)connection, that the objects this app relies on exist — passively, because apps have no
 * `configure` permission — and stops the app with a message naming what is missing. Also reports readiness.
 */
@Injectable()
export class BrokerConnector implements OnApplicationBootstrap {
  private readonly logger = new Logger('Broker');
  private verified = false;
  private failures = 0;
  /** `host:port` of the node the connection is on (one of RABBITMQ_URLS), for /health/ready */
  private node: string | undefined;
  /** the cluster's name as the node announced it */
  private cluster: string | undefined;

  constructor(
    private readonly amqp: AmqpConnection,
    @Inject(APP_ROLE) private readonly role: AppRole,
    health: HealthRegistry,
  ) {
    health.register({ name: 'broker', check: async () => this.problem(), describe: () => ({ node: this.node ?? null, cluster: this.cluster ?? null }) });
  }

  onApplicationBootstrap(): void {
    const manager = this.amqp.managedConnection;
    // amqp-connection-manager waits a fixed time between attempts; it reads this field each time, so back off
    const retry = manager as unknown as { reconnectTimeInSeconds: number };
    manager.on('connect', ({ connection, url }) => {
      this.failures = 0;
      this.node = nodeOf(url);
      this.cluster = clusterName(connection as unknown as ChannelModel);
      retry.reconnectTimeInSeconds = 1;
      void this.verify(connection as unknown as ChannelModel);
    });
    manager.on('disconnect', ({ err }) => {
      this.verified = false;
      this.logger.warn(`disconnected from RabbitMQ node ${this.node ?? '?'}: ${err?.message ?? 'closed'}; reconnecting`);
      this.node = undefined;
    });
    manager.on('connectFailed', ({ err }) => {
      const delayMs = backoffDelay(this.failures++, 1000, 30_000);
      retry.reconnectTimeInSeconds = delayMs / 1000;
      this.logger.warn(
        `cannot connect to RabbitMQ as ${this.role.user} on ${this.role.vhost}: ${err?.message}; retrying in ${delayMs} ms`,
      );
    });
    const current = (manager as unknown as { connection?: ChannelModel }).connection;
    if (manager.isConnected() && current) {
      const urls = (manager as unknown as { _urls?: unknown[]; _currentUrl?: number })._urls ?? [];
      this.node = nodeOf(urls[((manager as unknown as { _currentUrl?: number })._currentUrl ?? 1) - 1]);
      this.cluster = clusterName(current);
      void this.verify(current);
    }
  }

  get isReady(): boolean {
    return this.verified && this.amqp.managedConnection.isConnected();
  }

  private problem(): string | null {
    if (!this.amqp.managedConnection.isConnected()) return 'not connected';
    if (!this.verified) return 'topology not verified';
    return null;
  }

  private async verify(connection: ChannelModel): Promise<void> {
    const missing = await checkObjects(connection, this.role);
    if (missing.length > 0) {
      failFast(
        this.logger,
        `RabbitMQ objects missing in vhost ${this.role.vhost} for ${this.role.app} (user ${this.role.user}): ` +
          `${missing.join(', ')}. Run \`npm run provision\` first.`,
      );
      return;
    }
    this.verified = true;
    this.logger.log(`connected to RabbitMQ node ${this.node ?? '?'} as ${this.role.user} on ${this.role.vhost}; topology verified`);
  }
}

/** Passive declares, each on its own channel: a missing object closes the channel it was checked on. */
export async function checkObjects(connection: ChannelModel, role: Pick<AppRole, 'exchanges' | 'queues'>): Promise<string[]> {
  const attempt = async (what: string, check: (ch: Channel) => Promise<unknown>): Promise<string | null> => {
    let channel: Channel | undefined;
    try {
      channel = await connection.createChannel();
      channel.on('error', () => undefined);
      await check(channel);
      return null;
    } catch (error) {
      return `${what} (${(error as Error).message.split('\n')[0]})`;
    } finally {
      await channel?.close().catch(() => undefined);
    }
  };
  const results = await Promise.all([
    ...role.exchanges.map((x) => attempt(`exchange ${x}`, (ch) => ch.checkExchange(x))),
    ...role.queues.map((q) => attempt(`queue ${q}`, (ch) => ch.checkQueue(q))),
  ]);
  return results.filter((r): r is string => r !== null);
}

/** `host:port` of a connection target as amqp-connection-manager reports it (URL string or amqplib options). */
export function nodeOf(url: unknown): string | undefined {
  if (typeof url === 'string') {
    try {
      const u = new URL(url);
      return `${u.hostname}:${u.port || (u.protocol === 'amqps:' ? 5671 : 5672)}`;
    } catch {
      return undefined;
    }
  }
  if (url && typeof url === 'object') {
    const o = url as { hostname?: string; port?: number; protocol?: string; url?: unknown };
    if (o.url !== undefined) return nodeOf(o.url);
    if (o.hostname) return `${o.hostname}:${o.port ?? (o.protocol === 'amqps' ? 5671 : 5672)}`;
  }
  return undefined;
}

function clusterName(connection: ChannelModel): string | undefined {
  const properties = (connection as unknown as { connection?: { serverProperties?: Record<string, unknown> } }).connection?.serverProperties;
  const name = properties?.['cluster_name'];
  return typeof name === 'string' ? name : undefined;
}
