import { BusLoad, CalderaLoad } from '../load';
import { FaultCounts, baseline, settle, timeToReady } from '../report';
import { FaultSystem } from '../system';
import { out, sleep, whenInFlight } from '../suite';

/**
 * Connection loss under load on both systems: every app's broker connections closed through the management API,
 * five times, each time with messages in flight; then the broker's RabbitMQ application stopped and started
 * (`rabbitmqctl stop_app` / `start_app`) on the suite's own node.
 */
const BROKER_APP_DOWN_MS = 10_000;

export async function connectionLoss(system: FaultSystem): Promise<FaultCounts> {
  const before = await baseline(system);
  const bus = (await BusLoad.create(system, 'conn', 50)).start();
  const caldera = new CalderaLoad(system, 'faults-conn', 200, out).start();
  try {
    const recoverMs: number[] = [];

    for (let round = 1; round <= 5; round++) {
      const acceptedBefore = bus.accepted.length;
      // every app connected again (as the management API lists it), and messages on their way
      await whenInFlight(async () => (await system.appsWithoutConnection()).length === 0, 60_000);
      await whenInFlight(() => bus.accepted.length > acceptedBefore + 5 && bus.accepted.length > bus.received.size && caldera.confirmed.length > 0);
      const inFlight = bus.accepted.length - bus.received.size;
      const closed = await system.closeAppConnections(`faults suite: connection loss ${round}/5`);
      const at = Date.now();
      out(`round ${round}: closed ${closed} app connections with ${inFlight} bus messages in flight`);
      await sleep(1000); // readiness may still say "up" the instant after the close: give the apps a moment to notice
      recoverMs.push(await timeToReady(system, at));
    }

    await whenInFlight(() => bus.accepted.length > bus.received.size);
    await system.broker.stopApp();
    out(`broker app stopped for ${BROKER_APP_DOWN_MS / 1000} s under load`);
    await sleep(BROKER_APP_DOWN_MS);
    await system.broker.startApp();
    recoverMs.push(await timeToReady(system, Date.now()));
    // and the load flows again on both systems before the counting starts
    const [accepted, confirmed] = [bus.accepted.length, caldera.confirmed.length];
    await whenInFlight(() => bus.accepted.length >= accepted + 10 && caldera.confirmed.length >= confirmed + 10, 60_000);

    return await settle(system, 'connection loss: 5 × every app connection closed, then stop_app / start_app', before, bus, caldera, recoverMs);
  } finally {
    // a suite that failed half-way stops its load before the next one starts (settle() has stopped it otherwise)
    await Promise.all([bus.abort(), caldera.abort()]);
  }
}
