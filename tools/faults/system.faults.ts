import { crashes } from './suites/crashes';
import { connectionLoss } from './suites/connection-loss';
import { backpressure } from './suites/backpressure';
import { LONG_OUTAGE_MS, MAX_REDELIVERIES_PER_QUEUE, OUTAGE_MS, databaseOutage } from './suites/database-outage';
import { poisonAndDuplicates } from './suites/poison';
import { expectNothingLost, useSystem } from './suite';

/**
 * The fault suites, one after another on one system of their own (a private RabbitMQ node, a private PostgreSQL,
 * every app in a process): starting the system takes minutes on a shared machine, so the suites share it, and each
 * counts only what happened while it ran. One suite alone: `npm run test:faults -- -t crashes`.
 */
describe('fault suites (private broker and database, apps as processes)', () => {
  const system = useSystem();

  it('connection loss: nothing lost when every app loses its connections five times and the broker app restarts', async () => {
    expectNothingLost(await connectionLoss(system()));
  }, 480_000);

  it(`database outage: nothing lost, dead-lettered or spinning while PostgreSQL is down ${OUTAGE_MS / 1000} s`, async () => {
    const { counts, spinning } = await databaseOutage(system());
    expectNothingLost(counts, { [`queuesRedeliveringMoreThan${MAX_REDELIVERIES_PER_QUEUE}`]: { actual: spinning, expected: {} } });
  }, 360_000);

  it(`database outage: nothing lost, dead-lettered or spinning while PostgreSQL is down ${LONG_OUTAGE_MS / 60_000} minutes`, async () => {
    const { counts, spinning } = await databaseOutage(system(), LONG_OUTAGE_MS);
    expectNothingLost(counts, { [`queuesRedeliveringMoreThan${MAX_REDELIVERIES_PER_QUEUE}`]: { actual: spinning, expected: {} } });
  }, 600_000);

  it('crashes: nothing lost when each app in turn is killed with SIGKILL mid-work and restarted', async () => {
    expectNothingLost(await crashes(system()));
  }, 600_000);

  it('poison and duplicates: each bad message dead-lettered once with its reason, each good one applied once', async () => {
    const { counts, checks } = await poisonAndDuplicates(system());
    expectNothingLost(counts, checks);
  }, 300_000);

  it('backpressure: full inbox, working queue and outbox refuse with nacks and 503 + Retry-After, slow no one, and drain', async () => {
    const { counts, checks } = await backpressure(system());
    expectNothingLost(counts, checks);
  }, 600_000);
});
