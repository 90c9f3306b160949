import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { INestApplication } from '@nestjs/common';
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { SecretBox } from '@purple/platform';
import { BrokerNamespace, TestDatabase, createBrokerNamespace, createTestDatabase, eventually, startTestService } from '@purple/testing';
import { ManagementClient, SOAR_EXCHANGES, SOAR_VHOST, clientQueues, clientTopology } from '@purple/topology';
import { BusRouterModule } from '../src/app.module';

export const WEBHOOK_SECRET_KEY = 'test-webhook-secret-key-0123456789';

/**
 * A test's own broker namespace and database, a connection as the administrator `caldera_admin` (standing in for the
 * api and for clients), and the api's part of client registration: a bus_client row plus the client's queues and
 * bindings from clientTopology().
 */
export class BusTestBed {
  private constructor(
    readonly broker: BrokerNamespace,
    readonly db: TestDatabase,
    readonly sql: Client,
    readonly admin: ManagementClient,
    private readonly connection: amqp.ChannelModel,
    readonly channel: amqp.ConfirmChannel,
  ) {}

  static async create(): Promise<BusTestBed> {
    const [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    const sql = new Client({ connectionString: db.url });
    await sql.connect();
    const connection = await amqp.connect(broker.amqpUrl('caldera_admin', SOAR_VHOST));
    const channel = await connection.createConfirmChannel();
    return new BusTestBed(broker, db, sql, broker.management('caldera_admin'), connection, channel);
  }

  async dispose(): Promise<void> {
    await this.connection?.close().catch(() => undefined);
    await this.sql?.end().catch(() => undefined);
    await Promise.all([this.broker?.dispose(), this.db?.drop()]);
  }

  /**
   * Closes a router started by {@link startRouter}. golevelup keeps its connections in a process-wide registry and
   * closes all of them when any app closes, leaving the closing app's own one open when several run in one
   * process: so each app's connection is also closed here, explicitly.
   */
  static async closeRouter(router: INestApplication | undefined): Promise<void> {
    if (!router) return;
    const connection = router.get(AmqpConnection);
    await router.close();
    await connection.managedConnection.close();
  }

  /** Starts a router in-process in this namespace and database. */
  startRouter(env: Record<string, string> = {}): Promise<INestApplication> {
    return startTestService('bus-router', (e) => BusRouterModule.register(e), this.broker, this.db.url, {
      WEBHOOK_SECRET_KEY,
      // only notifications can make a change take effect in a test; the periodic sync is the production backstop
      ROUTER_RECONCILE_INTERVAL_MS: '600000',
      ROUTER_RETRY_BASE_MS: '50',
      ROUTER_RETRY_MAX_MS: '400',
      ...env,
    });
  }

  get vhost(): string {
    return this.broker.vhost(SOAR_VHOST);
  }

  /** Registers a client as the api does: queues and bindings, then the row (whose trigger notifies the router). */
  async createClient(client: ClientFixture, options: { queuesFirst?: boolean } = {}): Promise<void> {
    if (options.queuesFirst !== false) await this.createQueues(client.clientId, client.subscription);
    await this.sql.query(
      `INSERT INTO bus_client (client_id, client_name, subscription, webhook_url, webhook_enabled, webhook_secret_ciphertext, secret_hash, scopes)
       VALUES ($1, $2, $3, $4, $5, $6, 'scrypt$test$not-a-real-hash', $7)`,
      [
        client.clientId,
        `test client ${client.clientId}`,
        client.subscription,
        client.webhookUrl ?? null,
        client.webhookEnabled ?? true,
        client.webhookSecret ? new SecretBox(WEBHOOK_SECRET_KEY).seal(client.webhookSecret, client.clientId) : null,
        client.scopes ?? 'bus',
      ],
    );
  }

  async createQueues(clientId: string, subscription: string): Promise<void> {
    const topology = clientTopology(clientId, subscription, { namespace: this.broker.namespace });
    for (const queue of topology.queues) await this.admin.putQueue(queue);
    for (const binding of topology.bindings) await this.admin.createBinding(binding);
  }

  /** Deletes the row and then the queues, as the api does. */
  async deleteClient(clientId: string, options: { keepQueues?: boolean } = {}): Promise<void> {
    await this.sql.query('DELETE FROM bus_client WHERE client_id = $1', [clientId]);
    if (options.keepQueues) return;
    for (const queue of Object.values(clientQueues(clientId))) await this.admin.deleteQueue(this.vhost, queue, { ignoreMissing: true });
  }

  /** What the api's POST /send publishes: `{topic, message}` to soar-send, routed by the sender's id to its outbox. */
  send(sender: string, body: unknown, messageId: string = randomUUID()): Promise<string> {
    return this.publish(SOAR_EXCHANGES.send, sender, Buffer.from(JSON.stringify(body)), messageId).then(() => messageId);
  }

  /** What the api's POST /notify publishes: `{message}` to soar-notify, routed to the sender's broadcast queue. */
  notify(sender: string, message: unknown, messageId: string = randomUUID()): Promise<string> {
    return this.publish(SOAR_EXCHANGES.notify, sender, Buffer.from(JSON.stringify({ message })), messageId).then(() => messageId);
  }

  publish(exchange: string, routingKey: string, content: Buffer, messageId?: string): Promise<void> {
    return new Promise((resolve, reject) =>
      this.channel.publish(exchange, routingKey, content, { persistent: true, messageId, contentType: 'application/json' }, (error: unknown) =>
        error ? reject(error) : resolve(),
      ),
    );
  }

  /** Takes exactly `count` messages from a queue (acking them), failing if they do not all arrive in time. */
  async take(queue: string, count: number, timeoutMs = 10_000): Promise<amqp.GetMessage[]> {
    const taken: amqp.GetMessage[] = [];
    await eventually(
      async () => {
        while (taken.length < count) {
          const message = await this.channel.get(queue);
          if (!message) break;
          taken.push(message);
          this.channel.ack(message);
        }
        return taken.length >= count;
      },
      timeoutMs,
      50,
    ).catch((error: Error) => {
      throw new Error(`${queue}: got ${taken.length} of ${count} messages (${error.message})`);
    });
    return taken;
  }

  /** Messages ready in a queue now. */
  async depth(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).messageCount;
  }

  /**
   * Consumers on a queue now, from the broker itself. For a single-active-consumer queue that is the active one
   * only (0 or 1); see {@link registeredConsumers}.
   */
  async consumers(queue: string): Promise<number> {
    return (await this.channel.checkQueue(queue)).consumerCount;
  }

  /** Every consumer registered on a queue, standbys included, per the management API (whose figures lag by seconds). */
  async registeredConsumers(queue: string): Promise<number> {
    return (await this.admin.getQueue(this.vhost, queue))?.consumers ?? 0;
  }
}

export interface ClientFixture {
  clientId: string;
  subscription: string;
  webhookUrl?: string;
  webhookSecret?: string;
  webhookEnabled?: boolean;
  scopes?: string;
}

/** The envelope in a message taken from an inbox. */
export const envelopeOf = (message: amqp.GetMessage) =>
  JSON.parse(message.content.toString('utf8')) as { message_id: string; topic: string; sender: string; sent_at: string; message: unknown };
