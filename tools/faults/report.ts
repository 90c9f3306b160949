import { CHECKING_VHOST, SOAR_VHOST } from '@purple/topology';
import { BusLoad, CalderaLoad } from './load';
import { FaultSystem } from './system';

const FINAL_VERDICTS = ['detected', 'not_detected', 'error', 'no_detections'];
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FaultCounts {
  fault: string;
  bus: { accepted: number; received: number; lost: number[]; duplicated: Array<{ n: number; times: number; ids: number }>; answers: Record<string, number> };
  caldera: {
    confirmed: number;
    republished: number;
    /** confirmed link ids with no execution row */
    lost: string[];
    /** link ids stored more than once */
    duplicated: string[];
    /** stored executions whose verdict is not final when the drain ended */
    withoutVerdict: string[];
    errorVerdicts: number;
  };
  /** dead letters in PostgreSQL (drained from the checking DLQs) and still in any DLQ, by queue and reason */
  deadLettered: Array<{ queue: string; reason: string; count: number }>;
  /** redeliveries the broker counted per working queue (requeues and redeliveries after a consumer died) */
  redeliveries: Record<string, number>;
  /** from the end of each fault until every app answered ready again */
  recoverMs: number[];
  /** apps that exited on their own during the suite */
  crashes: FaultSystem['crashed'];
}

/**
 * What the broker and database held before a suite began: the suites share one system, so each counts only what
 * changed while it ran.
 */
export interface Baseline {
  at: Date;
  redeliveries: Record<string, number>;
  deadLetterQueueDepths: Record<string, number>;
}

export async function baseline(system: FaultSystem): Promise<Baseline> {
  return { at: new Date(), redeliveries: await redeliveries(system), deadLetterQueueDepths: await deadLetterQueueDepths(system) };
}

/** Every app answering ready; the time it took from `since`. */
export async function timeToReady(system: FaultSystem, since: number, timeoutMs = 180_000): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    // an app that died meanwhile is restarted as a supervisor would (its crash is recorded as a defect)
    await system.restartCrashed();
    const waiting = await system.notReady();
    if (waiting.length === 0) return Date.now() - since;
    if (Date.now() > deadline) throw new Error(`not ready ${Math.round(timeoutMs / 1000)} s after the fault: ${waiting.join(', ')}`);
    await sleep(250);
  }
}

/**
 * Stops the load, waits (bounded) until everything sent has taken effect, and counts: lost, duplicated, without a
 * verdict, dead-lettered with reasons, redeliveries.
 */
export async function settle(
  system: FaultSystem,
  fault: string,
  before: Baseline,
  busLoad: BusLoad | BusLoad[],
  caldera: CalderaLoad,
  recoverMs: number[],
  drainMs = 180_000,
): Promise<FaultCounts> {
  // several sender/receiver pairs (the soak) count as one: numbers are per pair, so lost and twice are summed
  const buses = [busLoad].flat();
  await Promise.all([...buses.map((b) => b.stopSending()), caldera.stop()]);
  const deadline = Date.now() + drainMs;
  await Promise.all([...buses.map((b) => b.drain(drainMs)), waitForVerdicts(system, caldera.confirmed, deadline)]);
  // apps that died during the drain are restarted (and recorded), so the counts below can be read
  await timeToReady(system, Date.now());

  const rows = await system.query<{ caldera_link_id: string; n: number; verdicts: string[] }>(
    `SELECT caldera_link_id, count(*)::int AS n, array_agg(verdict) AS verdicts FROM execution
      WHERE caldera_link_id = ANY($1::text[]) GROUP BY caldera_link_id`,
    [caldera.confirmed],
  );
  const stored = new Map(rows.map((r) => [r.caldera_link_id, r]));
  const errored = rows.filter((r) => r.verdicts.includes('error')).map((r) => r.caldera_link_id);
  if (errored.length > 0) {
    // why, so that an error verdict can be told apart from a defect (a connector that timed out on a loaded machine)
    const reasons = await system.query<{ status: string; last_error: string | null; result_error: string | null }>(
      `SELECT t.status, t.last_error, r.error AS result_error FROM execution e JOIN detection_task t ON t.execution_id = e.id
         LEFT JOIN detection_result r ON r.task_id = t.id WHERE e.caldera_link_id = ANY($1::text[]) AND e.verdict = 'error'`,
      [errored],
    );
    process.stdout.write(`[faults] error verdicts (${errored.length}): ${JSON.stringify(reasons)}\n`);
  }
  const counts: FaultCounts = {
    fault,
    bus: {
      accepted: sum(buses.map((b) => b.accepted.length)),
      received: sum(buses.map((b) => b.received.size)),
      lost: buses.flatMap((b) => b.lost()),
      duplicated: buses.flatMap((b) => b.duplicated()),
      answers: buses.reduce<Record<string, number>>((all, b) => {
        for (const [status, n] of Object.entries(b.answers)) all[status] = (all[status] ?? 0) + n;
        return all;
      }, {}),
    },
    caldera: {
      confirmed: caldera.confirmed.length,
      republished: caldera.republishes,
      lost: caldera.confirmed.filter((id) => !stored.has(id)),
      duplicated: rows.filter((r) => r.n > 1).map((r) => r.caldera_link_id),
      withoutVerdict: rows.filter((r) => !r.verdicts.every((v) => FINAL_VERDICTS.includes(v))).map((r) => r.caldera_link_id),
      errorVerdicts: rows.filter((r) => r.verdicts.includes('error')).length,
    },
    deadLettered: await deadLetters(system, before),
    redeliveries: since(before.redeliveries, await redeliveries(system)),
    recoverMs,
    crashes: system.crashed.filter((c) => c.at >= before.at.getTime()),
  };
  return counts;
}

const sum = (ns: number[]) => ns.reduce((a, b) => a + b, 0);

async function waitForVerdicts(system: FaultSystem, linkIds: string[], deadline: number): Promise<void> {
  while (Date.now() < deadline) {
    const rows = await system
      .query<{ done: number }>(
        `SELECT count(*)::int AS done FROM execution WHERE caldera_link_id = ANY($1::text[]) AND verdict = ANY($2::text[])`,
        [linkIds, FINAL_VERDICTS],
      )
      .catch(() => [{ done: -1 }]);
    if (rows[0].done >= linkIds.length) return;
    await sleep(1000);
  }
}

const since = (before: Record<string, number>, now: Record<string, number>) =>
  Object.fromEntries(Object.entries(now).flatMap(([k, n]) => (n - (before[k] ?? 0) > 0 ? [[k, n - (before[k] ?? 0)]] : [])));

async function deadLetterQueueDepths(system: FaultSystem): Promise<Record<string, number>> {
  const management = system.namespace.management();
  const depths: Record<string, number> = {};
  for (const vhost of [CHECKING_VHOST, SOAR_VHOST]) {
    const queues = await management.get<Array<{ name: string; messages?: number }>>(`/api/queues/${encodeURIComponent(system.namespace.vhost(vhost))}`);
    for (const q of queues.filter((q) => q.name.endsWith('dlq'))) depths[`${vhost} ${q.name}`] = q.messages ?? 0;
  }
  return depths;
}

async function deadLetters(system: FaultSystem, before: Baseline): Promise<FaultCounts['deadLettered']> {
  const drained = await system.query<{ queue: string; reason: string; count: number }>(
    `SELECT queue, reason, count(*)::int AS count FROM dead_letter WHERE dead_lettered_at >= $1 GROUP BY queue, reason ORDER BY queue, reason`,
    [before.at],
  );
  const waiting: FaultCounts['deadLettered'] = [];
  for (const [key, count] of Object.entries(since(before.deadLetterQueueDepths, await deadLetterQueueDepths(system)))) {
    const [vhost, queue] = key.split(' ');
    waiting.push({ queue: `${queue} (still queued)`, reason: await peekReasons(system, vhost, queue), count });
  }
  return [...drained, ...waiting];
}

/** The reasons of the first messages of a dead-letter queue, read without taking them (requeued). */
async function peekReasons(system: FaultSystem, vhost: string, queue: string): Promise<string> {
  // reading messages needs permissions in the vhost: caldera_admin has them in both vhosts (soar_admin is narrowed to clients' queues), the broker's administrator does not
  const vhostAdmin = system.namespace.management('caldera_admin');
  const messages = await vhostAdmin
    .post<Array<{ properties?: { headers?: Record<string, unknown> } }>>(
      `/api/queues/${encodeURIComponent(system.namespace.vhost(vhost))}/${encodeURIComponent(queue)}/get`,
      { count: 20, ackmode: 'ack_requeue_true', encoding: 'auto', truncate: 200 },
    )
    .catch((error: Error) => error);
  if (messages instanceof Error) return `(could not read: ${messages.message})`;
  const reasons = messages.map((m) => {
    const headers = m.properties?.headers ?? {};
    const death = (headers['x-death'] as Array<{ reason?: string }> | undefined)?.[0]?.reason;
    return String(headers['x-rejection-reason'] ?? death ?? headers['x-first-death-reason'] ?? 'unknown');
  });
  return [...new Set(reasons)].join('; ');
}

async function redeliveries(system: FaultSystem): Promise<Record<string, number>> {
  const management = system.namespace.management();
  const out: Record<string, number> = {};
  for (const vhost of [CHECKING_VHOST, SOAR_VHOST]) {
    const queues = await management.get<Array<{ name: string; message_stats?: { redeliver?: number } }>>(
      `/api/queues/${encodeURIComponent(system.namespace.vhost(vhost))}`,
    );
    for (const q of queues) if (q.message_stats?.redeliver) out[q.name] = q.message_stats.redeliver;
  }
  return out;
}

/** What the suite prints: one block per fault, then the defects. */
export function formatCounts(c: FaultCounts): string {
  const list = <T>(items: T[], show: (t: T) => string, max = 10) =>
    items.length === 0 ? '0' : `${items.length} (${items.slice(0, max).map(show).join(', ')}${items.length > max ? ', …' : ''})`;
  return [
    `── ${c.fault}`,
    `  bus:     accepted ${c.bus.accepted}, received ${c.bus.received} distinct; lost ${list(c.bus.lost, String)}; seen twice ${list(c.bus.duplicated, (d) => `#${d.n}×${d.times} (${d.ids === 1 ? 'one message_id' : `${d.ids} message_ids`})`)}; POST /send answers ${JSON.stringify(c.bus.answers)}`,
    `  caldera: confirmed ${c.caldera.confirmed} (${c.caldera.republished} published again); lost ${list(c.caldera.lost, String)}; stored twice ${list(c.caldera.duplicated, String)}; without a final verdict ${list(c.caldera.withoutVerdict, String)}; error verdicts ${c.caldera.errorVerdicts}`,
    `  dead-lettered: ${c.deadLettered.length === 0 ? '0' : c.deadLettered.map((d) => `${d.count} from ${d.queue}: ${d.reason}`).join('; ')}`,
    `  redeliveries: ${Object.keys(c.redeliveries).length === 0 ? '0' : Object.entries(c.redeliveries).map(([q, n]) => `${q} ${n}`).join(', ')}`,
    `  time to recover (every app ready): ${c.recoverMs.map((ms) => `${(ms / 1000).toFixed(1)} s`).join(', ') || '-'}`,
    `  apps that exited on their own: ${c.crashes.length}${c.crashes.map((x) => `\n    ${x.app} (${x.exit}), its last lines:\n      ${x.lastLines.slice(-3).map((l) => l.slice(0, 400)).join('\n      ')}`).join('')}`,
  ].join('\n');
}
