import { BusLoad, CalderaLoad } from './load';
import { settle } from './report';
import { SYSTEM_APPS } from './system';
import { expectNothingLost, out, useSystem, whenInFlight } from './suite';

/**
 * Crashes under load: each app in turn killed with SIGKILL in the middle of work (messages in flight), and started
 * again as a restart policy would. No execution may be left without its verdict, and no bus message lost or seen
 * twice.
 */
describe('fault: crashes', () => {
  const system = useSystem();

  it('loses nothing when each app in turn is killed with SIGKILL mid-work and restarted', async () => {
    const bus = (await BusLoad.create(system(), 'crash', 50)).start();
    const caldera = new CalderaLoad(system(), 'faults-crash', 200, out).start();
    const recoverMs: number[] = [];

    for (const app of SYSTEM_APPS) {
      const acceptedBefore = bus.accepted.length;
      const confirmedBefore = caldera.confirmed.length;
      await whenInFlight(
        () => bus.accepted.length > acceptedBefore + 5 && caldera.confirmed.length > confirmedBefore + 2 && bus.accepted.length > bus.received.size,
        60_000,
      );
      const at = Date.now();
      await system().kill9AndRestart(app);
      recoverMs.push(Date.now() - at);
      out(`${app}: killed (SIGKILL) and ready again after ${((Date.now() - at) / 1000).toFixed(1)} s`);
    }

    expectNothingLost(await settle(system(), `crashes: kill -9 of each of ${SYSTEM_APPS.length} apps mid-work, restarted`, bus, caldera, recoverMs));
  }, 600_000);
});
