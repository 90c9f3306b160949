import { BusLoad, CalderaLoad } from '../load';
import { FaultCounts, baseline, settle } from '../report';
import { FaultSystem, SYSTEM_APPS } from '../system';
import { out, whenInFlight } from '../suite';

/**
 * Crashes under load: each app in turn killed with SIGKILL in the middle of work (messages in flight), and started
 * again as a restart policy would. No execution may be left without its verdict, no bus message lost or seen twice.
 */
export async function crashes(system: FaultSystem): Promise<FaultCounts> {
  const before = await baseline(system);
  const bus = (await BusLoad.create(system, 'crash', 50)).start();
  const caldera = new CalderaLoad(system, 'faults-crash', 200, out).start();
  try {
    const recoverMs: number[] = [];

    for (const app of SYSTEM_APPS) {
      const acceptedBefore = bus.accepted.length;
      const confirmedBefore = caldera.confirmed.length;
      await whenInFlight(
        () => bus.accepted.length > acceptedBefore + 5 && caldera.confirmed.length > confirmedBefore + 2 && bus.accepted.length > bus.received.size,
        60_000,
      );
      const at = Date.now();
      await system.kill9AndRestart(app);
      recoverMs.push(Date.now() - at);
      out(`${app}: killed (SIGKILL) and ready again after ${((Date.now() - at) / 1000).toFixed(1)} s`);
    }

    return await settle(system, `crashes: kill -9 of each of ${SYSTEM_APPS.length} apps mid-work, restarted`, before, bus, caldera, recoverMs);
  } finally {
    // a suite that failed half-way stops its load before the next one starts (settle() has stopped it otherwise)
    await Promise.all([bus.abort(), caldera.abort()]);
  }
}
