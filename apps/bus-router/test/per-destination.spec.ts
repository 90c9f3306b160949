import { INestApplication } from '@nestjs/common';
import { REJECTION_REASON_HEADER } from '@purple/messaging';
import { eventually } from '@purple/testing';
import { SOAR_EXCHANGES, SOAR_RETRY_QUEUE, clientQueues, workingQueuePolicy } from '@purple/topology';
import { BusTestBed, ClientFixture, envelopeOf } from './support';

/**
 * Issue 11's reproduction, against the real broker: an idle client subscribed to `soar.#` whose inbox is full, while
 * another pair exchanges 1,500 messages. Before per-destination delivery, the pair got 50 distinct messages about 120
 * times each and the rest not at all.
 */
const idle: ClientFixture = { clientId: 'idle-watcher', subscription: 'soar.#' };
const alpha: ClientFixture = { clientId: 'pair-alpha', subscription: 'soar.pair.alpha.#' };
const bravo: ClientFixture = { clientId: 'pair-bravo', subscription: 'soar.pair.bravo.#' };
const q = clientQueues;
const IDLE_INBOX_LENGTH = 20;
const RETRY_WINDOW_MS = 15_000;

describe('bus-router: a full inbox affects only itself (real broker and database)', () => {
  let bed: BusTestBed;
  let router: INestApplication;
  let idleHolds: number;

  beforeAll(async () => {
    bed = await BusTestBed.create();
    for (const client of [idle, alpha, bravo]) await bed.createClient(client);
    // the idle inbox gets a small max-length (the seed's 10,000 would take long to fill); otherwise as production
    await bed.admin.putPolicy({
      name: 'test.idle-inbox-small',
      vhost: bed.vhost,
      pattern: `^${q(idle.clientId).inbox}$`,
      'apply-to': 'queues',
      priority: 10,
      definition: { ...workingQueuePolicy(SOAR_EXCHANGES.dlx), 'max-length': IDLE_INBOX_LENGTH },
    });
    idleHolds = await fillUp(bed, idle.clientId);
    router = await bed.startRouter({ ROUTER_INBOX_FULL_RETRY_MS: String(RETRY_WINDOW_MS), ROUTER_RETRY_MAX_MS: '2000' });
    await eventually(async () => (await bed.consumers(q(bravo.clientId).broadcast)) === 1 && (await bed.consumers(SOAR_RETRY_QUEUE)) === 1);
  }, 60_000);

  afterAll(async () => {
    await BusTestBed.closeRouter(router);
    await bed?.dispose();
  }, 60_000);

  it('delivers 1,500 messages between a pair exactly once and in order, and dead-letters the full inbox’s copies with "inbox full"', async () => {
    const started = Date.now();
    const [alphaSent, bravoSent] = await Promise.all([
      sendMany(bed, alpha.clientId, 'soar.pair.bravo.msg', 750),
      sendMany(bed, bravo.clientId, 'soar.pair.alpha.msg', 750),
    ]);
    const sentInMs = Date.now() - started;
    const [toBravo, toAlpha] = await Promise.all([bed.take(q(bravo.clientId).inbox, 750, 90_000), bed.take(q(alpha.clientId).inbox, 750, 90_000)]);
    const exchangedInMs = Date.now() - started;
    console.log(`1,500 messages next to a full inbox: sent (each confirmed into its outbox) in ${sentInMs} ms, all received after ${exchangedInMs} ms`);
    // every one once, in the order sent: no copy was held back or repeated for the idle client's sake
    expect(toBravo.map((m) => envelopeOf(m).message_id)).toEqual(alphaSent);
    expect(toAlpha.map((m) => envelopeOf(m).message_id)).toEqual(bravoSent);

    // the idle client's copies were retried for the window, then dead-lettered to it with the reason
    const deadLetters = await bed.take(q(idle.clientId).deadLetter, 1_500, RETRY_WINDOW_MS + 90_000);
    console.log(`1,500 copies for the full inbox dead-lettered ${Date.now() - started} ms after the first send`);
    expect(new Set(deadLetters.map((m) => envelopeOf(m).message_id))).toEqual(new Set([...alphaSent, ...bravoSent]));
    expect(deadLetters).toHaveLength(1_500);
    for (const m of deadLetters) {
      expect(m.properties.headers?.[REJECTION_REASON_HEADER]).toBe('inbox full');
      expect(m.properties.headers?.['x-original-queue']).toBe(q(idle.clientId).inbox);
      expect(Number(m.properties.headers?.['x-attempts'])).toBeGreaterThanOrEqual(2);
      expect(m.properties.messageId).toBe(envelopeOf(m).message_id);
    }

    // nothing is left to retry, and no extra copy reached anyone in the meantime
    await eventually(async () => (await bed.depth(SOAR_RETRY_QUEUE)) === 0 && (await unackedRetries(bed)) === 0, 30_000);
    expect(await bed.depth(q(bravo.clientId).inbox)).toBe(0);
    expect(await bed.depth(q(alpha.clientId).inbox)).toBe(0);
    expect(await bed.depth(q(idle.clientId).deadLetter)).toBe(0);
    expect(await bed.depth(q(idle.clientId).inbox)).toBe(idleHolds);
    expect(await bed.depth(q(alpha.clientId).outbox)).toBe(0);
  }, 240_000);

  it('delivers a broadcast once to every inbox with room, and a parked copy once the full inbox has room again', async () => {
    const id = await bed.notify(alpha.clientId, 'all hands');
    for (const client of [alpha, bravo]) expect(envelopeOf((await bed.take(q(client.clientId).inbox, 1))[0]).message_id).toBe(id);
    // room again in the idle inbox: its copy arrives from the retry queue (or was delivered just then), once
    await bed.take(q(idle.clientId).inbox, idleHolds);
    const [late] = await bed.take(q(idle.clientId).inbox, 1, RETRY_WINDOW_MS + 10_000);
    expect(envelopeOf(late)).toMatchObject({ message_id: id, topic: 'broadcast', sender: alpha.clientId });
    await eventually(async () => (await unackedRetries(bed)) === 0 && (await bed.depth(SOAR_RETRY_QUEUE)) === 0, 30_000);
    expect(await bed.depth(q(idle.clientId).inbox)).toBe(0);
    expect(await bed.depth(q(idle.clientId).deadLetter)).toBe(0);
    expect(await bed.depth(q(bravo.clientId).inbox)).toBe(0);
  }, 60_000);
});

/**
 * Publishes into a client's inbox until the broker refuses one: it is then full (max-length, reject-publish).
 * Answers how many it holds: a quorum queue refuses once it is over its limit, so it may hold one more.
 */
async function fillUp(bed: BusTestBed, clientId: string): Promise<number> {
  for (let i = 0; i < IDLE_INBOX_LENGTH * 10; i++) {
    try {
      await bed.publish(SOAR_EXCHANGES.direct, clientId, Buffer.from(JSON.stringify({ filler: i })));
    } catch {
      const depth = await bed.depth(q(clientId).inbox);
      expect(depth === IDLE_INBOX_LENGTH || depth === IDLE_INBOX_LENGTH + 1).toBe(true);
      return depth;
    }
  }
  throw new Error(`${q(clientId).inbox} never refused a message: its max-length policy is not applied`);
}

/** Sends `count` messages one after another (each confirmed into the outbox), returning their ids in order. */
async function sendMany(bed: BusTestBed, sender: string, topic: string, count: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i++) ids.push(await bed.send(sender, { topic, message: { i } }));
  return ids;
}

/** Parked copies the router holds unacked, waiting for their next attempt (management figures lag by seconds). */
async function unackedRetries(bed: BusTestBed): Promise<number> {
  const queue = await bed.admin.getQueue(bed.vhost, SOAR_RETRY_QUEUE);
  return queue ? Number(queue['messages_unacknowledged'] ?? 0) : -1;
}
