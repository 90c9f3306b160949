import { CHECKING_EXCHANGE, CHECKING_VHOST, ROUTING_KEYS } from '@purple/topology';
import * as amqp from 'amqplib';
import { randomUUID } from 'node:crypto';
import { executionResult } from '../bench/messages';
import { ADMIN_ID, FaultSystem } from './system';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const message = (error: unknown) => (error instanceof Error ? error.message : String(error));

/** How long a load generator keeps retrying its last message after stop() before it gives up on it. */
const GIVE_UP_MS = 60_000;

/**
 * Caldera publishing execution results as `caldera_publisher`, at-least-once, as a well-behaved publisher does:
 * persistent messages with confirms, one link id after another; a message without a confirm (connection closed,
 * broker stopped, nack) is published again with the same message id until the broker confirms it.
 */
export class CalderaLoad {
  /** link ids the broker confirmed: each must end as exactly one execution with a final verdict */
  readonly confirmed: string[] = [];
  publishes = 0;
  republishes = 0;
  /** publishes the broker refused (a full queue under reject-publish), each published again */
  nacks = 0;
  /** the last link id, if it was never confirmed before stop() gave up on it (not counted as sent) */
  unconfirmed: string | undefined;
  private running = true;
  private aborted = false;
  private done: Promise<void> | undefined;
  private model: amqp.ChannelModel | undefined;
  private channel: amqp.ConfirmChannel | undefined;
  /** rejects when the current channel closes: a confirm that will never come */
  private closed: Promise<never> | undefined;
  private attempts = 0;
  /** when set, publishes only while it answers true (the soak keeps both loads at the same share of their totals) */
  pace: (() => boolean) | undefined;

  constructor(
    private readonly system: FaultSystem,
    readonly operationId: string,
    private readonly intervalMs: number,
    private readonly log: (line: string) => void,
    /** stops sending on its own once this many were confirmed (the soak's target) */
    private readonly limit = Infinity,
  ) {}

  start(): this {
    this.done = this.loop();
    return this;
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
    await this.model?.close().catch(() => undefined);
  }

  /** Stops at once, giving up on an unconfirmed message (a suite that failed). */
  async abort(): Promise<void> {
    this.aborted = true;
    await this.stop();
  }

  private async loop(): Promise<void> {
    for (let i = 0; this.running && this.confirmed.length < this.limit; i++) {
      while (this.running && this.pace && !this.pace()) await sleep(100);
      const linkId = `${this.operationId}-${i}`;
      const body = executionResult(this.operationId, linkId, 0);
      const givingUpAt = () => (this.running ? Infinity : Date.now() + GIVE_UP_MS);
      let deadline = Infinity;
      for (let attempt = 0; ; attempt++) {
        if (!this.running && deadline === Infinity) deadline = givingUpAt();
        if (Date.now() > deadline || this.aborted) {
          this.unconfirmed = linkId;
          return;
        }
        try {
          const channel = await this.connected();
          const closed = this.closed as Promise<never>;
          this.publishes++;
          if (attempt > 0) this.republishes++;
          const confirmed = new Promise<void>((resolve, reject) => {
            channel.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, body, { persistent: true, contentType: 'application/json', messageId: linkId, correlationId: linkId }, (err) =>
              err ? reject(new Error('nack')) : resolve(),
            );
          });
          // a confirm that never comes (the connection went away) is a failure too
          await Promise.race([confirmed, closed]);
          this.confirmed.push(linkId);
          break;
        } catch (error) {
          if (message(error) === 'nack') {
            // refused, not lost: the channel stays usable, the same message goes again after a pause
            this.nacks++;
            await sleep(250);
            continue;
          }
          this.drop(`publish of ${linkId} failed (${message(error)}); publishing it again`);
          await sleep(250);
        }
      }
      await sleep(this.intervalMs);
    }
  }

  private async connected(): Promise<amqp.ConfirmChannel> {
    if (this.channel) return this.channel;
    // a cluster: each new connection goes to the next node, so a node that went away is left behind
    const urls = this.system.namespace.amqpUrls('caldera_publisher', CHECKING_VHOST);
    const model = await amqp.connect(urls[this.attempts++ % urls.length]);
    model.on('error', () => undefined);
    model.on('close', () => {
      if (this.model === model) this.model = this.channel = undefined;
    });
    const channel = await model.createConfirmChannel();
    channel.on('error', () => undefined);
    this.closed = new Promise<never>((_, reject) =>
      channel.once('close', () => {
        if (this.channel === channel) this.channel = undefined;
        reject(new Error('channel closed before the confirm'));
      }),
    );
    this.closed.catch(() => undefined);
    this.model = model;
    this.channel = channel;
    return channel;
  }

  private drop(why: string) {
    if (this.channel) this.log(`caldera load: ${why}`);
    const model = this.model;
    this.model = this.channel = undefined;
    void model?.close().catch(() => undefined);
  }
}

/**
 * Two bus clients over the HTTP API, as a client application would use it: the sender POSTs /send one message
 * after another, each with its own Idempotency-Key, and retries it after a 5xx or a dropped connection, as a client
 * that wants each message once must (without a key, a 503 after the broker kept the message makes the retry a
 * second message under a new id). The receiver polls GET /receive. A message is the number in its body; "seen
 * twice" counts the same number twice, whatever its id.
 */
export class BusLoad {
  /** numbers the api accepted (202) */
  readonly accepted: number[] = [];
  /** how each POST /send was answered (status, or `network`) */
  readonly answers: Record<string, number> = {};
  /** number → times the receiver got it */
  readonly received = new Map<number, number>();
  /** message_id → times the receiver got it */
  readonly receivedIds = new Map<string, number>();
  /** number → the message ids it arrived under (two ids: sent twice; one id twice: a receiver dedupe that failed) */
  private readonly idsOf = new Map<number, Set<string>>();
  /** number → when the api accepted it / when the receiver first got it (ms since epoch) */
  readonly acceptedAt = new Map<number, number>();
  readonly receivedAt = new Map<number, number>();
  /** every answer other than 202 and the Retry-After it carried */
  readonly refusals: Array<{ status: string; retryAfter: string | null; at: number }> = [];
  unaccepted: number | undefined;
  /** stops sending on its own once this many were accepted (the soak's target) */
  limit = Infinity;
  private running = true;
  private aborted = false;
  private receiving = true;
  private sending: Promise<void> | undefined;
  private reading: Promise<void> | undefined;
  private tokens = new Map<string, string>();
  /** one per load, so two loads on one sender never share a key */
  private readonly keyPrefix = `load-${randomUUID()}`;

  private constructor(
    private readonly system: FaultSystem,
    private readonly topic: string,
    private readonly sender: { id: string; secret: string },
    private readonly receiver: { id: string; secret: string },
    private readonly intervalMs: number,
  ) {}

  /** Registers a sender and a receiver subscribed to `<tag>.#` (the api must be up). */
  static async create(system: FaultSystem, tag: string, intervalMs: number, limit = Infinity): Promise<BusLoad> {
    const admin = await eventuallyToken(system, ADMIN_ID, system.adminSecret);
    const receiver = { id: `${tag}-receiver`, secret: await createClient(system, admin, `${tag}-receiver`, `${tag}.#`) };
    const sender = { id: `${tag}-sender`, secret: await createClient(system, admin, `${tag}-sender`, `${tag}-sender.nothing`) };
    const load = new BusLoad(system, `${tag}.load`, sender, receiver, intervalMs);
    load.limit = limit;
    return load;
  }

  /** The sender's client id (its outbox is `<id>-outbox`). */
  get senderId(): string {
    return this.sender.id;
  }

  /** Whether the sender stopped on its own (its limit reached). */
  get finishedSending(): boolean {
    return this.accepted.length >= this.limit;
  }

  /** Receive latency (ms) of the numbers accepted within [from, to): from the 202 to the first receipt. */
  latencies(from: number, to: number): number[] {
    return [...this.acceptedAt].filter(([n, at]) => at >= from && at < to && this.receivedAt.has(n)).map(([n, at]) => (this.receivedAt.get(n) as number) - at);
  }

  start(): this {
    this.sending = this.sendLoop();
    this.reading = this.receiveLoop();
    return this;
  }

  /** Stops sending (the last message is retried for a bounded time). Receiving goes on until drain(). */
  async stopSending(): Promise<void> {
    this.running = false;
    await this.sending;
  }

  /** Stops sending and receiving at once (a suite that failed). */
  async abort(): Promise<void> {
    this.aborted = true;
    this.running = false;
    this.receiving = false;
    await Promise.all([this.sending, this.reading]);
  }

  /** Waits (bounded) until every accepted number was received, then stops the receiver. */
  async drain(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && this.accepted.some((n) => !this.received.has(n))) await sleep(250);
    // a few more polls, so copies arriving just after the last original are counted too
    await sleep(3000);
    this.receiving = false;
    await this.reading;
  }

  lost(): number[] {
    return this.accepted.filter((n) => !this.received.has(n));
  }

  duplicated(): Array<{ n: number; times: number; ids: number }> {
    return [...this.received].filter(([, times]) => times > 1).map(([n, times]) => ({ n, times, ids: this.idsOf.get(n)?.size ?? 0 }));
  }

  /**
   * Sends `count` messages (numbers from 1,000,000 up), each POSTed twice with the same Idempotency-Key, as a client
   * retrying after a lost answer does. Counts the pairs answered with one message_id; the numbers count as accepted
   * once, so a second delivery shows up as "seen twice".
   */
  async sendTwiceWithIdempotencyKey(count: number): Promise<{ sent: number; sameMessageId: number; numbers: number[] }> {
    let sameMessageId = 0;
    const numbers: number[] = [];
    for (let i = 0; i < count; i++) {
      const n = 1_000_000 + i;
      const init = { method: 'POST', body: JSON.stringify({ topic: this.topic, message: { n } }), headers: { 'idempotency-key': `faults-${n}` } };
      const answers = [];
      for (let attempt = 0; attempt < 2; attempt++) {
        const res = await this.call(this.sender, '/send', init);
        answers.push({ status: res.status, body: (await res.json().catch(() => ({}))) as { message_id?: string } });
      }
      if (answers.some((a) => a.status === 202)) {
        this.accepted.push(n);
        numbers.push(n);
      }
      if (answers.every((a) => a.status === 202) && answers[0].body.message_id === answers[1].body.message_id) sameMessageId++;
    }
    return { sent: count, sameMessageId, numbers };
  }

  /** One raw POST as the sender (hostile bodies): the status it was answered with. */
  async postAsSender(path: string, body: string): Promise<number> {
    const res = await this.call(this.sender, path, { method: 'POST', body });
    await res.text();
    return res.status;
  }

  private async sendLoop(): Promise<void> {
    for (let n = 0; this.running && this.accepted.length < this.limit; n++) {
      let deadline = Infinity;
      for (;;) {
        if (!this.running && deadline === Infinity) deadline = Date.now() + GIVE_UP_MS;
        if (Date.now() > deadline || this.aborted) {
          this.unaccepted = n;
          return;
        }
        const init = { method: 'POST', body: JSON.stringify({ topic: this.topic, message: { n } }), headers: { 'idempotency-key': `${this.keyPrefix}-${n}` } };
        const { status, retryAfter } = await this.call(this.sender, '/send', init).then(
          async (r) => {
            await r.arrayBuffer().catch(() => undefined);
            return { status: String(r.status), retryAfter: r.headers.get('retry-after') };
          },
          () => ({ status: 'network', retryAfter: null }),
        );
        this.answers[status] = (this.answers[status] ?? 0) + 1;
        if (status === '202') {
          this.accepted.push(n);
          this.acceptedAt.set(n, Date.now());
          break;
        }
        this.refusals.push({ status, retryAfter, at: Date.now() });
        // as a client should: back off as long as Retry-After asks (bounded), else half a second
        await sleep(Math.min(5000, Math.max(500, Number(retryAfter ?? 0) * 1000)));
      }
      await sleep(this.intervalMs);
    }
  }

  private async receiveLoop(): Promise<void> {
    while (this.receiving) {
      try {
        const res = await this.call(this.receiver, '/receive?max_messages=50&wait_seconds=1', { method: 'GET' });
        if (res.status !== 200) {
          await res.text();
          await sleep(500);
          continue;
        }
        for (const envelope of (await res.json()) as Array<{ message_id: string; message: { n: number } }>) {
          if (!this.receivedAt.has(envelope.message.n)) this.receivedAt.set(envelope.message.n, Date.now());
          this.received.set(envelope.message.n, (this.received.get(envelope.message.n) ?? 0) + 1);
          this.receivedIds.set(envelope.message_id, (this.receivedIds.get(envelope.message_id) ?? 0) + 1);
          this.idsOf.set(envelope.message.n, (this.idsOf.get(envelope.message.n) ?? new Set()).add(envelope.message_id));
        }
      } catch {
        await sleep(500);
      }
    }
  }

  private async call(client: { id: string; secret: string }, path: string, init: RequestInit & { headers?: Record<string, string> }): Promise<Response> {
    // with replicas, the calls take turns between the api processes, as behind a load balancer
    const port = this.system.apiPort();
    if (port === undefined) throw new Error('the api is not running');
    let token = this.tokens.get(client.id);
    if (!token) {
      token = await token_(port, client.id, client.secret);
      this.tokens.set(client.id, token);
    }
    const res = await fetch(`http://127.0.0.1:${port}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...init.headers },
      signal: AbortSignal.timeout(15_000),
    });
    if (res.status === 401) this.tokens.delete(client.id);
    return res;
  }
}

/**
 * One more bus client reading its inbox over GET /receive, started when the suite says (a subscriber that was
 * away): counts what it got, by the number in the body.
 */
export class InboxReader {
  readonly received = new Map<number, number>();
  private reading: Promise<void> | undefined;
  private running = false;
  private token: string | undefined;

  private constructor(
    private readonly system: FaultSystem,
    readonly clientId: string,
    private readonly secret: string,
  ) {}

  static async create(system: FaultSystem, clientId: string, subscription: string): Promise<InboxReader> {
    const admin = await eventuallyToken(system, ADMIN_ID, system.adminSecret);
    return new InboxReader(system, clientId, await createClient(system, admin, clientId, subscription));
  }

  start(): this {
    this.running = true;
    this.reading = this.loop();
    return this;
  }

  /** Reads until every one of `numbers` arrived (bounded), a few polls more for late copies, then stops. */
  async drain(numbers: number[], timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline && numbers.some((n) => !this.received.has(n))) await sleep(250);
    await sleep(3000);
    await this.stop();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.reading;
  }

  private async loop(): Promise<void> {
    while (this.running) {
      try {
        const port = this.system.apiPort();
        if (port === undefined) throw new Error('the api is not running');
        this.token ??= await token_(port, this.clientId, this.secret);
        const res = await fetch(`http://127.0.0.1:${port}/receive?max_messages=100&wait_seconds=1`, {
          headers: { authorization: `Bearer ${this.token}` },
          signal: AbortSignal.timeout(15_000),
        });
        if (res.status !== 200) {
          if (res.status === 401) this.token = undefined;
          await res.text();
          await sleep(500);
          continue;
        }
        for (const envelope of (await res.json()) as Array<{ message: { n: number } }>) {
          this.received.set(envelope.message.n, (this.received.get(envelope.message.n) ?? 0) + 1);
        }
      } catch {
        await sleep(500);
      }
    }
  }
}

export async function token_(port: number, clientId: string, secret: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: secret }).toString(),
    signal: AbortSignal.timeout(15_000),
  });
  const body = (await res.json()) as { access_token?: string };
  if (res.status !== 200 || !body.access_token) throw new Error(`POST /token for ${clientId} answered ${res.status}`);
  return body.access_token;
}

export async function eventuallyToken(system: FaultSystem, clientId: string, secret: string): Promise<string> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const port = system.apiPort();
    try {
      if (port !== undefined) return await token_(port, clientId, secret);
    } catch (error) {
      if (Date.now() > deadline) throw new Error(`no token for ${clientId} within 60 s: ${message(error)}`);
    }
    await sleep(250);
  }
}

export async function createClient(system: FaultSystem, adminToken: string, clientId: string, subscription: string): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${system.apiPort()}/clients`, {
    method: 'POST',
    headers: { authorization: `Bearer ${adminToken}`, 'content-type': 'application/json' },
    body: JSON.stringify({ client_id: clientId, client_name: clientId, subscription }),
  });
  const body = (await res.json()) as { client_secret?: string; message?: unknown };
  if (res.status !== 201 || !body.client_secret) throw new Error(`POST /clients ${clientId} answered ${res.status}: ${JSON.stringify(body.message)}`);
  return body.client_secret;
}
