import { signAccessToken } from '@purple/auth';
import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS, SOAR_EXCHANGES, SOAR_VHOST } from '@purple/topology';
import * as amqp from 'amqplib';
import { randomBytes, randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { executionResult } from '../../bench/messages';
import { AUTHS, Auth, GeneratedRequest, OpenApiDocument, RequestGenerator } from '../security/openapi-requests';
import { out, sleep } from '../suite';
import { ADMIN_ID, FaultSystem } from '../system';

export type Checks = Record<string, { actual: unknown; expected: unknown }>;

/** Requests the generated run sends at least; SECURITY_REQUESTS raises it (every generated request is sent). */
export const MIN_GENERATED_REQUESTS = 1_000;
const CONCURRENCY = 8;
const REQUEST_TIMEOUT_MS = 60_000;

interface Client {
  id: string;
  secret: string;
  token: string;
}

/** An HTTP answer as text, whatever its type. */
interface Answer {
  status: number;
  text: string;
  headers: Record<string, string>;
}

export class SecurityContext {
  private constructor(
    readonly system: FaultSystem,
    readonly admin: string,
    readonly clients: Record<'bus' | 'reader' | 'operator', Client>,
  ) {}

  get base(): string {
    const api = this.system.apps.get('api');
    if (!api) throw new Error('the api is not running');
    return `http://127.0.0.1:${api.port}`;
  }

  static async create(system: FaultSystem): Promise<SecurityContext> {
    const admin = await eventually(() => tokenFor(system, ADMIN_ID, system.adminSecret), 60_000);
    const ctx = new SecurityContext(system, admin, {} as SecurityContext['clients']);
    ctx.clients.bus = await ctx.createClient('sec-bus', { subscription: 'sec.#' });
    ctx.clients.reader = await ctx.createClient('sec-reader', { scopes: ['checking:read'] });
    ctx.clients.operator = await ctx.createClient('sec-operator', { scopes: ['checking:read', 'checking:admin'] });
    return ctx;
  }

  async createClient(id: string, extra: Record<string, unknown> = {}): Promise<Client> {
    const bus = !extra['scopes'] || (extra['scopes'] as string[]).includes('bus');
    const res = await this.call('POST', '/clients', { token: this.admin, json: { client_id: id, client_name: id, ...(bus ? { subscription: `${id}.#` } : {}), ...extra } });
    if (res.status !== 201) throw new Error(`POST /clients ${id}: ${res.status} ${res.text.slice(0, 300)}`);
    const secret = (JSON.parse(res.text) as { client_secret: string }).client_secret;
    return { id, secret, token: await tokenFor(this.system, id, secret) };
  }

  async call(method: string, path: string, options: { token?: string; json?: unknown; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
    const headers: Record<string, string> = { ...options.headers };
    if (options.token) headers['authorization'] = `Bearer ${options.token}`;
    let body = options.body;
    if (options.json !== undefined) {
      headers['content-type'] = 'application/json';
      body = JSON.stringify(options.json);
    }
    const res = await fetch(this.base + path, { method, headers, body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
    return { status: res.status, text: await res.text(), headers: Object.fromEntries(res.headers) };
  }

  /** The status of a WebSocket handshake at /stream (101 when it opened), closing it at once. */
  wsHandshake(token: string | undefined): Promise<number> {
    return new Promise((resolve) => {
      const ws = new WebSocket(`${this.base.replace('http', 'ws')}/stream`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
      ws.on('unexpected-response', (_req, res) => {
        resolve(res.statusCode ?? 0);
        res.resume();
        ws.terminate();
      });
      ws.on('open', () => {
        resolve(101);
        ws.close();
      });
      ws.on('error', () => resolve(0));
    });
  }
}

// ─── 1. requests generated from the OpenAPI document ──────────────────────────────────────────────────────────

export interface GeneratedRun {
  seed: number;
  sent: number;
  operations: string[];
  byOperation: Record<string, Record<string, number>>;
  serverErrors: string[];
  noAnswer: string[];
  secretsFound: string[];
  secretsInLog: string[];
  appsExited: string[];
}

/** Fixtures the generator picks valid values from: real ids of clients, operations, executions, tasks, dead letters. */
async function checkingFixtures(system: FaultSystem): Promise<{ operations: string[]; executions: string[]; tasks: string[]; deadLetters: string[] }> {
  const operationId = `sec-op-${randomBytes(3).toString('hex')}`;
  const connection = await amqp.connect(system.namespace.amqpUrl('caldera_publisher', CHECKING_VHOST));
  connection.on('error', () => undefined);
  const channel = await connection.createConfirmChannel();
  for (let i = 0; i < 3; i++) {
    const linkId = `${operationId}-${i}`;
    channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, executionResult(operationId, linkId, 0), { persistent: true, contentType: 'application/json', messageId: linkId });
  }
  // one the consumer must dead-letter, so the checking dead letters have a row to read and replay
  channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, Buffer.from('{"not": "a result"'), { persistent: true, contentType: 'application/json', messageId: `${operationId}-poison` });
  await channel.waitForConfirms();
  await connection.close();
  const ids = async () => ({
    executions: (await system.query<{ id: string }>(`SELECT e.id FROM execution e JOIN operation o ON o.id = e.operation_id WHERE o.caldera_operation_id = $1`, [operationId])).map((r) => r.id),
    tasks: (await system.query<{ id: string }>(
      `SELECT t.id FROM detection_task t JOIN execution e ON e.id = t.execution_id JOIN operation o ON o.id = e.operation_id WHERE o.caldera_operation_id = $1`,
      [operationId],
    )).map((r) => r.id),
    deadLetters: (await system.query<{ id: string }>(`SELECT id::text FROM dead_letter WHERE message_id = $1`, [`${operationId}-poison`])).map((r) => r.id),
  });
  const found = await eventually(async () => {
    const now = await ids();
    return now.executions.length === 3 && now.tasks.length > 0 && now.deadLetters.length > 0 ? now : null;
  }, 120_000);
  return { operations: [operationId], ...found };
}

export async function generatedRequests(ctx: SecurityContext, seed: number, budget: number): Promise<GeneratedRun> {
  const { system } = ctx;
  const docAnswer = await ctx.call('GET', '/docs-json');
  if (docAnswer.status !== 200) throw new Error(`GET /docs-json answered ${docAnswer.status}: the security system runs the api with EXPOSE_DOCS=true`);
  const doc = JSON.parse(docAnswer.text) as OpenApiDocument;
  const checking = await checkingFixtures(system);
  const victims: Client[] = [];
  for (let i = 0; i < 4; i++) victims.push(await ctx.createClient(`sec-victim-${i}`));
  const newIds = Array.from({ length: 40 }, (_, i) => `sec-new-${i}`);

  const tokens: Record<Auth, string | undefined> = {
    admin: ctx.admin,
    bus: ctx.clients.bus.token,
    'checking-read': ctx.clients.reader.token,
    'checking-admin': ctx.clients.operator.token,
    none: undefined,
    forged: forge(ctx.clients.bus.token, { scope: 'admin bus checking:read checking:admin' }),
  };
  const everyClient = [ctx.clients.bus, ctx.clients.reader, ctx.clients.operator, ...victims];
  const valid = (operation: string, field: string): string[] => {
    const destructive = /^(DELETE|PATCH) \/clients\/\{id\}$|^POST \/clients\/\{id\}\/secret$/.test(operation);
    if (field === 'id' && operation.includes('/clients/')) return destructive ? victims.map((v) => v.id) : [ctx.clients.bus.id, ...victims.map((v) => v.id)];
    if (field === 'operation_id') return checking.operations;
    if (field === 'id' && operation.includes('/checking/executions')) return checking.executions;
    if (field === 'id' && operation.includes('/checking/tasks')) return checking.tasks;
    if (field === 'id' && operation.includes('/checking/dead-letters')) return checking.deadLetters;
    if (field === 'client_id' && operation === 'POST /token') return everyClient.map((c) => c.id);
    if (field === 'client_secret') return everyClient.map((c) => c.secret);
    if (field === 'client_id') return newIds;
    if (field === 'grant_type') return ['client_credentials'];
    if (field === 'scope' || field === 'scopes') return field === 'scope' ? ['bus'] : [];
    if (field === 'subscription') return ['sec.fuzz.#', 'soar.*.x'];
    if (field === 'topic') return ['sec.fuzz.topic'];
    if (field === 'webhook_url') return ['https://hooks.example.org/soar'];
    if (field === 'wait_seconds') return ['0', '1'];
    if (field === 'idempotency-key') return [randomUUID(), randomUUID()];
    if (field === 'host' || field === 'paw') return ['WORKSTATION', 'paw1'];
    if (field === 'from' || field === 'to') return ['2024-01-15T10:30:00Z'];
    if (field === 'queue') return ['caldera.checking.instructions'];
    return [];
  };
  const authsFor = (operation: string): Auth[] => {
    if (/^(GET|POST) \/(send|notify|receive)$/.test(operation)) return ['bus'];
    if (operation.includes('/dead-letters') && operation.includes('/clients/')) return ['admin', 'bus'];
    if (operation === 'GET /clients/{id}') return ['admin', 'bus'];
    if (operation.includes('/clients')) return ['admin'];
    if (/redispatch|\/replay$/.test(operation)) return ['checking-admin'];
    if (operation.includes('/checking/')) return ['checking-read', 'checking-admin'];
    return ['none'];
  };

  const generator = new RequestGenerator(doc, valid, authsFor, seed);
  let requests = generator.generate();
  // the valid requests always; the rest sampled by the seed down to the budget
  if (requests.length > budget) {
    const random = mulberryShuffle(seed);
    const [always, rest] = [requests.filter((r) => r.variant.startsWith('valid')), requests.filter((r) => !r.variant.startsWith('valid'))];
    requests = [...always, ...random(rest).slice(0, Math.max(0, budget - always.length))];
  }
  // non-destructive first: a victim deleted early would only turn later requests into 404s
  requests.sort((a, b) => rank(a) - rank(b));
  out(`security: ${requests.length} requests generated from the OpenAPI document (${generator.operations().length} operations), seed ${seed}`);

  const answers: Array<{ request: GeneratedRequest; answer?: Answer; error?: string; issued: string[] }> = [];
  const issuedSecrets = new Set<string>();
  let next = 0;
  const started = Date.now();
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++];
      const headers = { ...request.headers };
      const token = tokens[request.auth];
      if (token) headers['authorization'] = `Bearer ${token}`;
      try {
        const res = await fetch(ctx.base + request.url, { method: request.method, headers, body: request.body, signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
        const answer = { status: res.status, text: await res.text(), headers: Object.fromEntries(res.headers) };
        const issued = issuedBy(request, answer);
        issued.forEach((s) => issuedSecrets.add(s));
        answers.push({ request, answer, issued });
      } catch (error) {
        answers.push({ request, error: (error as Error).message, issued: [] });
      }
      if (answers.length % 250 === 0) out(`security: ${answers.length}/${requests.length} answered (${Math.round((Date.now() - started) / 1000)} s)`);
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  out(`security: ${answers.length} answered in ${Math.round((Date.now() - started) / 1000)} s`);

  // every secret the system holds, and every one it issued, looked for in every answer
  const secrets = await secretsOf(ctx, [...everyClient.map((c) => c.secret), ...issuedSecrets]);
  const tokensOfOthers = [ctx.admin, ...Object.values(ctx.clients).map((c) => c.token), ...victims.map((v) => v.token)];
  const secretsFound: string[] = [];
  for (const { request, answer, issued } of answers) {
    if (!answer) continue;
    const text = `${answer.text}\n${Object.values(answer.headers).join('\n')}`;
    for (const [name, value] of secrets) {
      if (!issued.includes(value) && text.includes(value)) secretsFound.push(`${describe(request)} → ${answer.status} holds ${name}`);
    }
    const sentToken = tokens[request.auth];
    for (const token of tokensOfOthers) if (token !== sentToken && text.includes(token)) secretsFound.push(`${describe(request)} → ${answer.status} holds another client's access token`);
    if (/scrypt\$|secret_hash|webhook_secret_ciphertext|_PASSWORD/.test(answer.text)) secretsFound.push(`${describe(request)} → ${answer.status} names a stored secret: ${answer.text.slice(0, 200)}`);
  }
  const apiLines = system.apps.get('api')?.lines() ?? [];
  const secretsInLog = [...secrets].filter(([, value]) => apiLines.some((line) => line.includes(value))).map(([name]) => name);

  const byOperation: Record<string, Record<string, number>> = {};
  for (const { request, answer } of answers) {
    const counts = (byOperation[request.operation] ??= {});
    const key = answer ? String(answer.status) : 'no answer';
    counts[key] = (counts[key] ?? 0) + 1;
  }
  for (const [operation, counts] of Object.entries(byOperation)) out(`  ${operation}: ${JSON.stringify(counts)}`);
  const serverErrors = answers.filter((a) => a.answer && a.answer.status >= 500).map((a) => `${describe(a.request)} → ${a.answer?.status} ${a.answer?.text.slice(0, 200)}`);
  const noAnswer = answers.filter((a) => a.error).map((a) => `${describe(a.request)} → ${a.error}`);
  for (const line of [...serverErrors, ...noAnswer, ...secretsFound].slice(0, 40)) out(`  DEFECT (seed ${seed}): ${line}`);
  return {
    seed,
    sent: answers.filter((a) => a.answer).length,
    operations: generator.operations(),
    byOperation,
    serverErrors,
    noAnswer,
    secretsFound,
    secretsInLog,
    appsExited: system.crashed.map((c) => `${c.app} (${c.exit})`),
  };
}

/** The secrets an answer may carry because it issued them: a new client's, a rotated one, a webhook's, a token. */
function issuedBy(request: GeneratedRequest, answer: Answer): string[] {
  if (answer.status >= 300) return [];
  try {
    const body = JSON.parse(answer.text) as Record<string, unknown>;
    return ['client_secret', 'webhook_secret', 'access_token'].map((k) => body[k]).filter((v): v is string => typeof v === 'string' && v.length > 0);
  } catch {
    return [];
  }
}

/** name → value of every secret the system has: configuration, broker passwords, and what the database stores. */
async function secretsOf(ctx: SecurityContext, clientSecrets: string[]): Promise<Map<string, string>> {
  const { system } = ctx;
  const secrets = new Map<string, string>([
    ['ADMIN_CLIENT_SECRET', system.adminSecret],
    ['TOKEN_SIGNING_KEY', system.tokenSigningKey],
    ['WEBHOOK_SECRET_KEY', system.webhookSecretKey],
  ]);
  for (const [user, password] of Object.entries(system.namespace.passwords)) secrets.set(`${user}'s broker password`, password);
  for (const [variable, url] of Object.entries(system.database.env())) secrets.set(`the database password in ${variable}`, decodeURIComponent(new URL(url).password));
  clientSecrets.forEach((s, i) => secrets.set(`client secret #${i}`, s));
  const rows = await system.query<{ client_id: string; secret_hash: string; webhook_secret_ciphertext: string | null }>(
    'SELECT client_id, secret_hash, webhook_secret_ciphertext FROM bus_client',
  );
  for (const row of rows) {
    // the salt and the hash of the stored scrypt string, and the sealed webhook secret
    for (const part of row.secret_hash.split('$').filter((p) => p.length >= 16)) secrets.set(`${row.client_id}'s secret hash`, part);
    if (row.webhook_secret_ciphertext) secrets.set(`${row.client_id}'s sealed webhook secret`, row.webhook_secret_ciphertext);
  }
  for (const [name, value] of secrets) if (!value || value.length < 8) secrets.delete(name);
  return secrets;
}

const rank = (r: GeneratedRequest) => (r.method === 'DELETE' ? 3 : /\/secret$|^PATCH/.test(`${r.method} ${r.url}`) ? 2 : r.operation === 'POST /token' ? 1 : 0);

const describe = (r: GeneratedRequest) => `${r.method} ${r.url.length > 120 ? `${r.url.slice(0, 100)}…` : r.url} as ${r.auth} [${r.variant}]`;

function mulberryShuffle(seed: number) {
  let a = (seed ^ 0x9e3779b9) >>> 0;
  const random = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return <T>(items: T[]): T[] => {
    const copy = [...items];
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  };
}

// ─── 2. forged tokens ─────────────────────────────────────────────────────────────────────────────────────────

const b64 = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1], 'base64url').toString('utf8')) as Record<string, unknown>;

/** The token with some claims changed and its signature kept: the signature no longer matches. */
function forge(token: string, changes: Record<string, unknown>): string {
  const [header, , signature] = token.split('.');
  return `${header}.${b64({ ...claimsOf(token), ...changes })}.${signature}`;
}

export async function forgedTokens(ctx: SecurityContext): Promise<Checks> {
  const { system } = ctx;
  const real = ctx.clients.bus.token;
  const claims = claimsOf(real) as { sub: string; scope: string; ver: number; inc: string };
  const deleted = await ctx.createClient('sec-deleted');
  await expectStatus(ctx.call('DELETE', `/clients/${deleted.id}`, { token: ctx.admin }), 204);
  const reborn = await ctx.createClient('sec-reborn');
  await expectStatus(ctx.call('DELETE', `/clients/${reborn.id}`, { token: ctx.admin }), 204);
  await ctx.createClient('sec-reborn');
  const rotated = await ctx.createClient('sec-rotated');
  await expectStatus(ctx.call('POST', `/clients/${rotated.id}/secret`, { token: ctx.admin }), 200);

  const forged: Record<string, string> = {
    'signed with another key': signAccessToken({ clientId: claims.sub, scope: claims.scope, tokenVersion: claims.ver, incarnation: claims.inc, ttlSeconds: 600 }, randomBytes(32).toString('hex')).token,
    'claims changed (admin scope), signature kept': forge(real, { scope: 'admin bus' }),
    'alg none, no signature': `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...claimsOf(real), scope: 'admin bus' })}.`,
    'alg none, the real signature': `${b64({ alg: 'none', typ: 'JWT' })}.${real.split('.')[1]}.${real.split('.')[2]}`,
    'expired (right key, right client)': signAccessToken(
      { clientId: claims.sub, scope: claims.scope, tokenVersion: claims.ver, incarnation: claims.inc, ttlSeconds: 60, now: new Date(Date.now() - 3_600_000) },
      system.tokenSigningKey,
    ).token,
    "a deleted client's token": deleted.token,
    "the token of a deleted client's earlier incarnation (same id created again)": reborn.token,
    'the token from before a secret rotation': rotated.token,
    'not a JWT': 'definitely-not-a-token',
  };
  const http: Record<string, unknown> = {};
  const ws: Record<string, unknown> = {};
  for (const [name, token] of Object.entries(forged)) {
    const answers = await Promise.all([ctx.call('GET', '/receive', { token }), ctx.call('GET', `/clients/${claims.sub}`, { token }), ctx.call('GET', '/clients', { token })]);
    http[name] = answers.every((a) => a.status === 401 && /^Bearer /.test(a.headers['www-authenticate'] ?? '')) ? 401 : answers.map((a) => a.status);
    ws[name] = await ctx.wsHandshake(token);
  }
  out(`security: forged tokens over HTTP ${JSON.stringify(http)}; over the WebSocket ${JSON.stringify(ws)}`);
  // the real token still works, so the refusals above are the forgeries', not a broken api
  const control = { http: (await ctx.call('GET', '/receive', { token: real })).status, ws: await ctx.wsHandshake(real) };
  return {
    forgedTokensRefusedOverHttp: { actual: http, expected: Object.fromEntries(Object.keys(forged).map((k) => [k, 401])) },
    forgedTokensRefusedOverWebSocket: { actual: ws, expected: Object.fromEntries(Object.keys(forged).map((k) => [k, 401])) },
    theRealTokenWorks: { actual: control, expected: { http: 200, ws: 101 } },
  };
}

// ─── 3. one client against another's queues ─────────────────────────────────────────────────────────────────

export async function crossClientIsolation(ctx: SecurityContext): Promise<Checks> {
  const { system } = ctx;
  const a = await ctx.createClient('sec-iso-a', { subscription: 'iso-a.#' });
  const b = await ctx.createClient('sec-iso-b', { subscription: 'iso-b.#' });
  // B gets one message in its inbox (sent by A, as the bus allows) and one dead letter
  const sent = await ctx.call('POST', '/send', { token: a.token, json: { topic: 'iso-b.private', message: { for: 'b only' } } });
  const router = await amqp.connect(system.namespace.amqpUrl('soar_router', SOAR_VHOST));
  router.on('error', () => undefined);
  const channel = await router.createConfirmChannel();
  channel.publish(SOAR_EXCHANGES.dlx, b.id, Buffer.from(JSON.stringify({ dead: 'letter of b' })), { persistent: true, messageId: randomUUID(), headers: { 'x-rejection-reason': 'test' } });
  await channel.waitForConfirms();
  await router.close();
  await eventually(async () => ((await queueDepth(system, `${b.id}-inbox`)) === 1 ? true : null), 60_000);

  const attempts = {
    'GET /clients/{b}': await ctx.call('GET', `/clients/${b.id}`, { token: a.token }),
    'PATCH /clients/{b}': await ctx.call('PATCH', `/clients/${b.id}`, { token: a.token, json: { subscription: 'iso-a.#' } }),
    'DELETE /clients/{b}': await ctx.call('DELETE', `/clients/${b.id}`, { token: a.token }),
    'POST /clients/{b}/secret': await ctx.call('POST', `/clients/${b.id}/secret`, { token: a.token }),
    'GET /clients/{b}/dead-letters': await ctx.call('GET', `/clients/${b.id}/dead-letters`, { token: a.token }),
    'POST /clients/{b}/dead-letters/replay': await ctx.call('POST', `/clients/${b.id}/dead-letters/replay`, { token: a.token }),
    'GET /clients (the list)': await ctx.call('GET', '/clients', { token: a.token }),
  };
  const statuses = Object.fromEntries(Object.entries(attempts).map(([k, v]) => [k, v.status]));
  const leaked = Object.entries(attempts).filter(([, v]) => v.text.includes('b only') || v.text.includes('letter of b')).map(([k]) => k);
  // A reads its own inbox: nothing of B's; B's message and dead letter are still where they were
  const aReads = await ctx.call('GET', '/receive?max_messages=100', { token: a.token });
  const afterwards = { inbox: await queueDepth(system, `${b.id}-inbox`), dlq: await queueDepth(system, `${b.id}-dlq`) };
  const bReads = await ctx.call('GET', '/receive?max_messages=100', { token: b.token });
  const bGot = (JSON.parse(bReads.text) as Array<{ sender: string; message: unknown }>).map((e) => ({ sender: e.sender, message: e.message }));

  // over AMQP: bus clients have no broker user, so neither their secret nor their token opens the broker
  const amqpAttempts: Record<string, string> = {};
  for (const vhost of [SOAR_VHOST, CHECKING_VHOST]) {
    for (const [what, password] of [
      ['secret', a.secret],
      ['token', a.token],
    ]) {
      for (const user of [a.id, system.namespace.user(a.id)]) {
        const url = `amqp://${encodeURIComponent(user)}:${encodeURIComponent(password)}@${system.broker.settings.host}:${system.broker.settings.port}/${encodeURIComponent(system.namespace.vhost(vhost))}`;
        amqpAttempts[`${user} with its ${what} on ${vhost}`] = await amqp.connect(url).then(
          async (c) => {
            c.on('error', () => undefined);
            await c.close();
            return 'connected';
          },
          (error: Error) => (/ACCESS_REFUSED|403/.test(error.message) ? 'refused' : `failed: ${error.message.slice(0, 80)}`),
        );
      }
    }
  }
  const management = await fetch(`${system.broker.settings.managementUrl}/api/whoami`, {
    headers: { authorization: `Basic ${Buffer.from(`${a.id}:${a.secret}`).toString('base64')}` },
  }).then((r) => r.status);
  const users = (await system.namespace.management().get<Array<{ name: string }>>('/api/users')).map((u) => u.name);
  const clientUsers = users.filter((u) => u.includes('sec-'));
  out(`security: isolation ${JSON.stringify({ statuses, leaked, afterwards, bGot, amqpAttempts, management, clientUsers })}`);
  return {
    sendAcceptedForB: { actual: sent.status, expected: 202 },
    aIsRefusedBsRecordAndQueues: {
      actual: statuses,
      expected: Object.fromEntries(Object.keys(attempts).map((k) => [k, 403])),
    },
    nothingOfBsInAsAnswers: { actual: [...leaked, ...(aReads.text.includes('b only') ? ['GET /receive as A'] : [])], expected: [] },
    bsMessageAndDeadLetterUntouched: { actual: afterwards, expected: { inbox: 1, dlq: 1 } },
    bReceivesItsMessageWithTheRealSender: { actual: bGot, expected: [{ sender: a.id, message: { for: 'b only' } }] },
    clientCredentialsOpenNoBrokerConnection: {
      actual: amqpAttempts,
      expected: Object.fromEntries(Object.keys(amqpAttempts).map((k) => [k, 'refused'])),
    },
    clientCredentialsOpenNoManagementApi: { actual: management, expected: 401 },
    brokerUsersForBusClients: { actual: clientUsers, expected: [] },
  };
}

// ─── helpers ────────────────────────────────────────────────────────────────────────────────────────────────

async function queueDepth(system: FaultSystem, queue: string): Promise<number | undefined> {
  const info = await system.namespace.management().getQueue(system.namespace.vhost(SOAR_VHOST), queue);
  return info?.['messages'] as number | undefined;
}

async function expectStatus(answer: Promise<Answer>, status: number): Promise<void> {
  const a = await answer;
  if (a.status !== status) throw new Error(`expected ${status}, got ${a.status}: ${a.text.slice(0, 200)}`);
}

export async function tokenFor(system: FaultSystem, clientId: string, secret: string): Promise<string> {
  const api = system.apps.get('api');
  const res = await fetch(`http://127.0.0.1:${api?.port}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).toString(),
    signal: AbortSignal.timeout(30_000),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`POST /token for ${clientId} answered ${res.status}`);
  return body.access_token;
}

export async function eventually<T>(probe: () => Promise<T | null>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== null && value !== undefined) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs / 1000} s${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(250);
  }
}

export { AUTHS };
