import { BusLoad, CalderaLoad } from '../load';
import { FaultCounts, baseline, settle, timeToReady } from '../report';
import { FaultSystem } from '../system';
import { out, sleep, whenInFlight } from '../suite';

/**
 * Database outage under load: the suite's own PostgreSQL stopped for 30 s (and for 3 minutes) while Caldera results and bus messages
 * keep coming, then started again. Nothing may be dead-lettered, nothing may spin, and everything finishes once
 * the database is back.
 */
export const OUTAGE_MS = 30_000;
/** the long one: longer than any consumer's backoff, long enough for ten requeues many times over */
export const LONG_OUTAGE_MS = 180_000;
/**
 * "Spinning", in numbers: a consumer that pauses while the database is down hands back at most what it held (its
 * prefetch window, 10, MessagingModule's default) once; more redeliveries on a queue mean it kept taking and
 * requeueing messages it could not process.
 */
export const MAX_REDELIVERIES_PER_QUEUE = 10;

export async function databaseOutage(system: FaultSystem, outageMs = OUTAGE_MS): Promise<{ counts: FaultCounts; spinning: Record<string, number> }> {
  const before = await baseline(system);
  const tag = `dbout${outageMs / 1000}`;
  const bus = (await BusLoad.create(system, tag, 50)).start();
  const caldera = new CalderaLoad(system, `faults-${tag}`, 200, out).start();
  try {
    await whenInFlight(() => caldera.confirmed.length >= 5 && bus.accepted.length > bus.received.size);
    await system.postgres.stop();
    out(`PostgreSQL stopped for ${outageMs / 1000} s under load (${caldera.confirmed.length} results confirmed so far)`);
    await sleep(outageMs);
    await system.postgres.start();
    const recoverMs = [await timeToReady(system, Date.now())];
    // and the load flows again on both systems before the counting starts
    const [accepted, confirmed] = [bus.accepted.length, caldera.confirmed.length];
    await whenInFlight(() => bus.accepted.length >= accepted + 10 && caldera.confirmed.length >= confirmed + 10, 60_000);

    const counts = await settle(system, `database outage: PostgreSQL stopped ${outageMs / 1000} s`, before, bus, caldera, recoverMs);
    const spinning = Object.fromEntries(Object.entries(counts.redeliveries).filter(([queue, n]) => !queue.endsWith('dlq') && n > MAX_REDELIVERIES_PER_QUEUE));
    return { counts, spinning };
  } finally {
    // a suite that failed half-way stops its load before the next one starts (settle() has stopped it otherwise)
    await Promise.all([bus.abort(), caldera.abort()]);
  }
}
