import { buildApps } from './app-process';
import { SYSTEM_APPS } from './apps';

/**
 * The apps are built before any suite starts (nx caches the build): on a busy machine a cold build takes minutes,
 * which no suite's own time bound should absorb.
 */
export default async function buildBeforeTheSuites(): Promise<void> {
  const started = Date.now();
  await buildApps(SYSTEM_APPS);
  process.stdout.write(`[faults] apps built in ${Math.round((Date.now() - started) / 1000)} s\n`);
}
