import { BusLoad, CalderaLoad } from './load';
import { settle, timeToReady } from './report';
import { expectNothingLost, out, sleep, useSystem, whenInFlight } from './suite';

/**
 * Database outage under load: the suite's own PostgreSQL stopped for 30 s while Caldera results and bus messages
 * keep coming, then started again. Nothing may be dead-lettered, nothing may spin (the broker's redelivery count
 * per working queue stays within one prefetch window per consumer: a paused consumer hands back what it held, once),
 * and everything finishes once the database is back.
 */
const OUTAGE_MS = 30_000;
/** the apps' consumer prefetch (MessagingModule's default) */
const PREFETCH = 10;

describe('fault: database outage', () => {
  const system = useSystem();

  it(`loses nothing, dead-letters nothing and does not spin while PostgreSQL is down for ${OUTAGE_MS / 1000} s`, async () => {
    const bus = (await BusLoad.create(system(), 'dbout', 50)).start();
    const caldera = new CalderaLoad(system(), 'faults-dbout', 200, out).start();

    await whenInFlight(() => caldera.confirmed.length >= 5 && bus.accepted.length > bus.received.size);
    await system().postgres.stop();
    out(`PostgreSQL stopped for ${OUTAGE_MS / 1000} s under load (${caldera.confirmed.length} results confirmed so far)`);
    await sleep(OUTAGE_MS);
    await system().postgres.start();
    const recoverMs = [await timeToReady(system(), Date.now())];

    const counts = await settle(system(), `database outage: PostgreSQL stopped ${OUTAGE_MS / 1000} s`, bus, caldera, recoverMs);
    const spinning = Object.entries(counts.redeliveries).filter(([queue, n]) => !queue.endsWith('dlq') && n > PREFETCH);
    expectNothingLost(counts, { queuesRedeliveringMoreThanOneWindow: { actual: Object.fromEntries(spinning), expected: {} } });
  }, 600_000);
});
