import { eventually, databaseEnv } from '@purple/testing';
import { SOAR_VHOST, clientQueues } from '@purple/topology';
import { randomBytes } from 'node:crypto';
import { sendBody } from '../messages';
import { Arrivals, now, runClosedLoop } from '../timing';
import { CONSUMER_PREFETCH, connection } from './amqp';
import { BenchContext, BenchPath, meanLength, startApp } from './path';

const ADMIN_ID = 'bench-admin';
const SENDER = 'bench-sender';
const RECIPIENT = 'bench-recipient';
const TOPIC = 'bench.load.test';

/**
 * The communications backbone: `POST /send` to the real api (bearer token, validation, publish with confirms, 202)
 * → the sender's outbox → the real bus-router → the recipient's inbox, read there as the administrator `caldera_admin`
 * (no one else consumes it: the recipient has no webhook). Both apps run in processes of their own.
 */
export async function startBackbonePath(ctx: BenchContext): Promise<BenchPath> {
  const adminSecret = randomBytes(24).toString('base64url');
  const webhookKey = randomBytes(24).toString('hex');
  const common = { ...ctx.broker.env(), ...databaseEnv(ctx.db.url), LOG_LEVEL: ctx.options.logLevel };
  const [api, router] = await Promise.all([
    startApp(ctx, 'api', {
      ...common,
      RABBITMQ_MANAGEMENT_URL: ctx.broker.settings.managementUrl,
      TOKEN_SIGNING_KEY: randomBytes(32).toString('hex'),
      ADMIN_CLIENT_ID: ADMIN_ID,
      ADMIN_CLIENT_SECRET: adminSecret,
      WEBHOOK_SECRET_KEY: webhookKey,
    }),
    startApp(ctx, 'bus-router', { ...common, WEBHOOK_SECRET_KEY: webhookKey }),
  ]);
  const baseUrl = `http://127.0.0.1:${api.port}`;

  // the api creates its first admin in the background at start
  const adminToken = await eventually(() => token(baseUrl, ADMIN_ID, adminSecret).catch(() => null), 30_000, 200);
  await createClient(baseUrl, adminToken, RECIPIENT, 'bench.#');
  const sender = await createClient(baseUrl, adminToken, SENDER, 'bench-sender.nothing');
  const senderToken = await token(baseUrl, SENDER, sender);

  const reading = await connection(ctx.broker.amqpUrl('caldera_admin', SOAR_VHOST), 'soar_admin connection', ctx.cleanup);
  const inbox = await reading.createChannel();
  await inbox.prefetch(CONSUMER_PREFETCH);
  const batches = new Map<string, Arrivals>();
  await inbox.consume(
    clientQueues(RECIPIENT).inbox,
    (message) => {
      if (!message) return;
      const at = now();
      const { message: body } = JSON.parse(message.content.toString('utf8')) as { message: { batch: string; index: number } };
      batches.get(body.batch)?.arrive(body.index, at);
      inbox.ack(message);
    },
    { noAck: false },
  );

  return {
    name: 'backbone',
    title: 'backbone: POST /send → api → bus-router → inbox',
    async runBatch(batch, count) {
      const bodies = Array.from({ length: count }, (_, i) => sendBody(TOPIC, batch, i, ctx.options.size));
      const arrivals = new Arrivals(count);
      batches.set(batch, arrivals);
      const send = async (i: number) => {
        const res = await fetch(`${baseUrl}/send`, {
          method: 'POST',
          headers: { authorization: `Bearer ${senderToken}`, 'content-type': 'application/json' },
          body: bodies[i],
        });
        const text = await res.text();
        if (res.status !== 202) throw new Error(`POST /send answered ${res.status}: ${text.slice(0, 200)}`);
      };
      const sentAt = await runClosedLoop({ count, concurrency: ctx.options.concurrency, arrivals, send, what: 'backbone' }).finally(() =>
        batches.delete(batch),
      );
      return { times: { sentAt, arrivedAt: arrivals.arrivedAt }, duplicates: arrivals.duplicates, messageBytes: meanLength(bodies) };
    },
    async stop() {
      await reading.close().catch(() => undefined);
      await Promise.all([api.stop(), router.stop()]);
    },
  };
}

async function token(baseUrl: string, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`${baseUrl}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).toString(),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`POST /token for ${clientId} answered ${res.status}`);
  return body.access_token;
}

/** Registers a client (its queues and bindings come with it); returns its secret. */
async function createClient(baseUrl: string, adminToken: string, clientId: string, subscription: string): Promise<string> {
  const res = await fetch(`${baseUrl}/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, client_name: clientId, subscription }),
  });
  const body = (await res.json()) as { client_secret?: string; message?: unknown };
  if (res.status !== 201 || !body.client_secret) throw new Error(`POST /clients ${clientId} answered ${res.status}: ${JSON.stringify(body.message)}`);
  return body.client_secret;
}
