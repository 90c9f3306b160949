import { CHECKING_QUEUES, CHECKING_VHOST, SOAR_RETRY_QUEUE, SOAR_VHOST, clientQueues, exactly } from '@purple/topology';
import { BusLoad, CalderaLoad, InboxReader } from '../load';
import { FaultCounts, baseline, settle, timeToReady } from '../report';
import { FaultSystem } from '../system';
import { out, sleep, whenInFlight } from '../suite';

/**
 * Backpressure: queues filled to their max-length under load. The limits are lowered for the suite's own queues
 * only, with operator policies (RabbitMQ's operator knob: the lower max-length of policy and operator policy wins,
 * the topology's `overflow: reject-publish` stays), so filling them takes seconds, not 10,000 messages:
 *
 * 1. an idle bus client subscribed to the load's topic stops reading: its inbox fills, the router's copies to it
 *    are nacked and parked, while the other subscriber keeps receiving, as fast as before and once each;
 * 2. the caldera-consumer is away: `caldera.checking.instructions` fills and Caldera's publishes are nacked;
 * 3. the bus-router is away too: the sender's outbox fills and `POST /send` answers 503 (or 429) with Retry-After;
 * 4. every consumer returns: everything drains, nothing lost, nothing twice, nothing dead-lettered.
 */
export const LIMITS = { inbox: 50, outbox: 30, instructions: 40 };
const TAG = 'bp';
const IDLE = 'bp-idle';
/** "not slowed": the receiver's p95 latency while the other inbox is full stays within this of before it filled */
export const SLOWDOWN_FACTOR = 3;
/** … or within this, whichever is larger (a loaded 2-core machine has slow seconds whatever the inboxes hold) */
export const SLOWDOWN_FLOOR_MS = 5000;

type Check = { actual: unknown; expected: unknown };

export async function backpressure(system: FaultSystem): Promise<{ counts: FaultCounts; checks: Record<string, Check> }> {
  const before = await baseline(system);
  const soar = encodeURIComponent(system.namespace.vhost(SOAR_VHOST));
  const checking = encodeURIComponent(system.namespace.vhost(CHECKING_VHOST));
  const management = system.namespace.management();
  const policies = [
    { vhost: soar, name: 'faults-small-inbox', pattern: exactly(clientQueues(IDLE).inbox), max: LIMITS.inbox },
    { vhost: soar, name: 'faults-small-outbox', pattern: exactly(clientQueues(`${TAG}-sender`).outbox), max: LIMITS.outbox },
    { vhost: checking, name: 'faults-small-instructions', pattern: exactly(CHECKING_QUEUES.instructions), max: LIMITS.instructions },
  ];
  const depth = async (vhost: string, queue: string) =>
    (await management.get<{ messages?: number }>(`/api/queues/${vhost}/${encodeURIComponent(queue)}`)).messages ?? 0;
  /** The depth once the management API's statistics (refreshed every few seconds) show the limit, else after 30 s. */
  const depthAtLimit = async (vhost: string, queue: string, limit: number) => {
    let seen = await depth(vhost, queue);
    for (const deadline = Date.now() + 30_000; seen < limit && Date.now() < deadline; seen = await depth(vhost, queue)) await sleep(500);
    return seen;
  };
  const parkedCopies = async () =>
    (await management.get<{ message_stats?: { publish?: number } }>(`/api/queues/${soar}/${encodeURIComponent(SOAR_RETRY_QUEUE)}`)).message_stats?.publish ?? 0;

  const idle = await InboxReader.create(system, IDLE, `${TAG}.#`);
  for (const p of policies) {
    await management.put(`/api/operator-policies/${p.vhost}/${p.name}`, { pattern: p.pattern, 'apply-to': 'queues', priority: 0, definition: { 'max-length': p.max } });
  }
  const bus = (await BusLoad.create(system, TAG, 20)).start();
  const caldera = new CalderaLoad(system, 'faults-bp', 100, out).start();
  const started = Date.now();
  const parkedBefore = await parkedCopies();
  try {
    // 1 and 2: the idle client does not read, the caldera-consumer goes away
    await whenInFlight(() => caldera.confirmed.length >= 5 && bus.received.size >= 10, 60_000);
    await system.stopApp('caldera-consumer');
    out(`caldera-consumer away; ${IDLE} not reading (its inbox limited to ${LIMITS.inbox}, the instructions to ${LIMITS.instructions})`);
    await whenInFlight(async () => (await parkedCopies()) > parkedBefore, 120_000);
    const inboxFullAt = Date.now();
    const inboxDepth = await depthAtLimit(soar, clientQueues(IDLE).inbox, LIMITS.inbox);
    out(`${IDLE}-inbox full (${inboxDepth} messages): the router's copies to it are nacked and parked`);
    const acceptedAtFull = bus.accepted.length;
    await whenInFlight(async () => bus.accepted.length >= acceptedAtFull + 60 && caldera.nacks >= 3 && bus.received.size >= acceptedAtFull + 50, 180_000);
    const instructionsDepth = await depthAtLimit(checking, CHECKING_QUEUES.instructions, LIMITS.instructions);
    const fullUntil = Date.now();
    const parkedWhileFull = (await parkedCopies()) - parkedBefore;
    out(`while the inbox was full: ${bus.accepted.length - acceptedAtFull} more bus messages accepted, ${parkedWhileFull} copies parked; instructions at ${instructionsDepth}, Caldera nacked ${caldera.nacks}×`);

    // 3: the router goes away as well: the sender's outbox fills, and the api must say "later"
    await system.stopApp('bus-router');
    const routerAwayAt = Date.now();
    await whenInFlight(() => bus.refusals.filter((r) => r.at >= routerAwayAt).length >= 3, 120_000);
    const outboxDepth = await depthAtLimit(soar, clientQueues(`${TAG}-sender`).outbox, LIMITS.outbox);
    const refusedWhileOutboxFull = bus.refusals.filter((r) => r.at >= routerAwayAt);
    out(`bus-router away: ${TAG}-sender-outbox at ${outboxDepth}; POST /send answered ${JSON.stringify(tally(refusedWhileOutboxFull.map((r) => `${r.status} Retry-After ${r.retryAfter ?? 'none'}`)))}`);

    // 4: every consumer returns
    const returnedAt = Date.now();
    await Promise.all([system.comeBack('bus-router'), system.comeBack('caldera-consumer')]);
    idle.start();
    const recoverMs = [await timeToReady(system, returnedAt)];
    const counts = await settle(system, `backpressure: ${IDLE}-inbox (${LIMITS.inbox}), instructions (${LIMITS.instructions}) and ${TAG}-sender-outbox (${LIMITS.outbox}) full`, before, bus, caldera, recoverMs);
    await idle.drain(bus.accepted, 180_000);
    const drainedMs = Date.now() - returnedAt;

    const base = percentile(bus.latencies(started, inboxFullAt), 0.95);
    const whileFull = percentile(bus.latencies(inboxFullAt, fullUntil), 0.95);
    const bound = Math.max(SLOWDOWN_FLOOR_MS, SLOWDOWN_FACTOR * base);
    const idleLost = bus.accepted.filter((n) => !idle.received.has(n));
    const idleTwice = [...idle.received].filter(([, times]) => times > 1).map(([n, times]) => `#${n}×${times}`);
    out(
      `receiver p95 latency: ${base} ms before ${IDLE}-inbox filled, ${whileFull} ms while it was full (bound ${bound} ms); ` +
        `${IDLE} got ${idle.received.size} distinct of ${bus.accepted.length} once it read again (lost ${idleLost.length}, twice ${idleTwice.length}); ` +
        `everything drained ${(drainedMs / 1000).toFixed(1)} s after the consumers returned`,
    );

    return {
      counts,
      checks: {
        idleInboxReachedItsLimit: { actual: inboxDepth >= LIMITS.inbox, expected: true },
        routerCopiesToTheFullInboxNackedAndParked: { actual: parkedWhileFull > 0, expected: true },
        instructionsReachedItsLimit: { actual: instructionsDepth >= LIMITS.instructions, expected: true },
        calderaPublishesNacked: { actual: caldera.nacks > 0, expected: true },
        outboxReachedItsLimit: { actual: outboxDepth >= LIMITS.outbox, expected: true },
        sendRefusedWhileOutboxFull: { actual: refusedWhileOutboxFull.length > 0, expected: true },
        sendRefusalsWithout503or429AndRetryAfter: {
          actual: refusedWhileOutboxFull.filter((r) => !['503', '429'].includes(r.status) || !r.retryAfter).map((r) => `${r.status} Retry-After ${r.retryAfter}`),
          expected: [],
        },
        otherSubscriberNotSlowed: { actual: whileFull <= bound ? 'within bound' : `p95 ${whileFull} ms > ${bound} ms`, expected: 'within bound' },
        idleSubscriberLost: { actual: idleLost.slice(0, 10), expected: [] },
        idleSubscriberSawTwice: { actual: idleTwice.slice(0, 10), expected: [] },
      },
    };
  } finally {
    await Promise.all([bus.abort(), caldera.abort(), idle.stop()]);
    // a suite that failed half-way leaves no app away and no small queue behind for the next one
    await Promise.all([system.comeBack('bus-router'), system.comeBack('caldera-consumer')]).catch((error: Error) => out(`bringing the consumers back: ${error.message}`));
    for (const p of policies) await management.delete(`/api/operator-policies/${p.vhost}/${p.name}`, { ignoreMissing: true });
  }
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];
}

const tally = (items: string[]) => items.reduce<Record<string, number>>((acc, k) => ({ ...acc, [k]: (acc[k] ?? 0) + 1 }), {});
