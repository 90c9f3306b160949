import { INestApplication } from '@nestjs/common';
import { startService } from '@purple/messaging';
import { BrokerNamespace, TestDatabase, baseUrl, createBrokerNamespace, createTestDatabase, eventually, databaseEnv } from '@purple/testing';
import { SOAR_EXCHANGES, SOAR_VHOST } from '@purple/topology';
import * as amqp from 'amqplib';
import { randomBytes, randomUUID } from 'node:crypto';
import { AddressInfo, createServer } from 'node:net';
import { ApiModule } from '../src/app.module';
import { configureApi } from '../src/configure';

export const ADMIN_ID = 'admin';
/** small, so the oversized-body test needs no big payload */
export const TEST_MAX_BODY_BYTES = 16 * 1024;

/** The api's environment in a test namespace and database; `extra` overrides. */
export function apiEnv(broker: BrokerNamespace, databaseUrl: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...broker.env(),
    ...databaseEnv(databaseUrl),
    PORT: '0',
    LOG_LEVEL: 'warn',
    RABBITMQ_MANAGEMENT_URL: broker.settings.managementUrl,
    TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
    ADMIN_CLIENT_ID: ADMIN_ID,
    ADMIN_CLIENT_SECRET: randomBytes(24).toString('base64url'),
    WEBHOOK_SECRET_KEY: randomBytes(24).toString('hex'),
    // webhook receivers in tests listen on loopback
    WEBHOOK_ALLOWLIST: '127.0.0.1',
    MAX_BODY_BYTES: String(TEST_MAX_BODY_BYTES),
    // the tests read the OpenAPI document; production's default (off) is tested in internal-endpoints.spec.ts
    EXPOSE_DOCS: 'true',
    ...extra,
  };
}

export function startApi(env: Record<string, string>): Promise<INestApplication> {
  return startService('api', (common) => ApiModule.register(common), { configure: configureApi }, env);
}

/** Response bodies are read loosely: each test states the shape it expects. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
type Json = any;

export interface Reply<T = Json> {
  status: number;
  headers: Headers;
  body: T;
}

/** A small HTTP client for the api: JSON in, JSON (or text) out. */
export class ApiClient {
  constructor(readonly url: string) {}

  async request<T = Json>(
    method: string,
    path: string,
    options: { token?: string; json?: unknown; body?: string; headers?: Record<string, string> } = {},
  ): Promise<Reply<T>> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const res = await fetch(this.url + path, { method, headers, body });
    const text = await res.text();
    let parsed: unknown = text;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      // not JSON: keep the text
    }
    return { status: res.status, headers: res.headers, body: parsed as T };
  }

  /** client-credentials grant with a form body */
  async token(clientId: string, secret: string, scope?: string): Promise<string> {
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret });
    if (scope) form.set('scope', scope);
    const reply = await this.request('POST', '/token', {
      body: form.toString(),
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    if (reply.status !== 200) throw new Error(`token for ${clientId}: ${reply.status} ${JSON.stringify(reply.body)}`);
    return reply.body.access_token;
  }

  /** the admin's token, once the api has ensured the admin client (it does so in the background at start) */
  adminToken(env: Record<string, string>): Promise<string> {
    return eventually(() => this.token(env['ADMIN_CLIENT_ID'], env['ADMIN_CLIENT_SECRET']).catch(() => null), 20_000, 200);
  }
}

export interface CreatedClient {
  id: string;
  secret: string;
  token: string;
  webhookSecret?: string;
}

export async function createClient(
  api: ApiClient,
  adminToken: string,
  body: { client_id: string; subscription?: string; client_name?: string; webhook_url?: string; scopes?: string[] },
): Promise<CreatedClient> {
  const reply = await api.request('POST', '/clients', { token: adminToken, json: { client_name: body.client_id, ...body } });
  if (reply.status !== 201) throw new Error(`create ${body.client_id}: ${reply.status} ${JSON.stringify(reply.body)}`);
  const secret = reply.body.client_secret as string;
  return { id: body.client_id, secret, token: await api.token(body.client_id, secret), webhookSecret: reply.body.webhook_secret };
}

/** Everything a test file needs: its own broker namespace and database, and the api running in them. */
export interface ApiHarness {
  broker: BrokerNamespace;
  db: TestDatabase;
  env: Record<string, string>;
  app: INestApplication;
  api: ApiClient;
  adminToken: string;
  /**
   * Stops the api but keeps the namespace and database, so another api instance can take over. Only one api may run
   * in a process at a time: golevelup keeps its connections in a registry shared by every app in the process, and
   * closing one app closes (and forgets) the others' connections.
   */
  stopApp(): Promise<void>;
  close(): Promise<void>;
}

export async function startHarness(extra: Record<string, string> = {}): Promise<ApiHarness> {
  const [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
  const env = apiEnv(broker, db.url, extra);
  let app: INestApplication | undefined;
  const stopApp = async () => {
    const running = app;
    app = undefined;
    await running?.close();
  };
  const close = async () => {
    await stopApp();
    await Promise.all([broker.dispose(), db.drop()]);
  };
  try {
    app = await startApi(env);
    const api = new ApiClient(await baseUrl(app));
    await eventually(async () => (await api.request('GET', '/health/ready')).status === 200, 20_000, 100);
    const adminToken = await api.adminToken(env);
    return { broker, db, env, app, api, adminToken, stopApp, close };
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
}

/** A channel as the namespace's administrator `caldera_admin`, to look into queues and to play the bus-router's part. */
export async function adminChannel(broker: BrokerNamespace): Promise<{ channel: amqp.ConfirmChannel; close(): Promise<void> }> {
  const connection = await amqp.connect(broker.amqpUrl('caldera_admin', SOAR_VHOST));
  connection.on('error', () => undefined);
  const channel = await connection.createConfirmChannel();
  channel.on('error', () => undefined);
  return { channel, close: () => connection.close().catch(() => undefined) };
}

/** What the bus-router would put into an inbox: an envelope, through `soar-direct`, confirmed. */
export async function deliverToInbox(
  channel: amqp.ConfirmChannel,
  clientId: string,
  envelope: { topic: string; sender: string; message: unknown; message_id?: string },
): Promise<string> {
  const messageId = envelope.message_id ?? randomUUID();
  const body = { message_id: messageId, topic: envelope.topic, sender: envelope.sender, sent_at: new Date().toISOString(), message: envelope.message };
  channel.publish(SOAR_EXCHANGES.direct, clientId, Buffer.from(JSON.stringify(body)), { persistent: true, messageId, contentType: 'application/json' });
  await channel.waitForConfirms();
  return messageId;
}

/**
 * Takes (and acks) every message in a queue, in order. A consumer rather than basic.get, which quorum queues with a
 * single active consumer (outboxes, broadcast queues) refuse; "every" is what arrives until the queue is empty.
 */
export async function drain(channel: amqp.ConfirmChannel, queue: string): Promise<amqp.ConsumeMessage[]> {
  const messages: amqp.ConsumeMessage[] = [];
  const { consumerTag } = await channel.consume(queue, (message) => message && messages.push(message), { noAck: true });
  try {
    await eventually(async () => (await channel.checkQueue(queue)).messageCount === 0, 10_000, 50);
    // deliveries already on their way
    await new Promise((r) => setTimeout(r, 100));
  } finally {
    await channel.cancel(consumerTag);
  }
  return messages;
}

/** A local TCP port with nothing listening on it: a broker that is down, or a port for the api to take. */
export function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Messages ready in a queue, from the management API (its statistics lag by a few seconds at most). */
export async function readyCount(broker: BrokerNamespace, queue: string): Promise<number | undefined> {
  const info = await broker.management().getQueue(broker.vhost(SOAR_VHOST), queue);
  return info?.['messages_ready'] as number | undefined;
}
