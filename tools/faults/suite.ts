import { FaultCounts, formatCounts } from './report';
import { FaultSystem } from './system';

/** Suite output goes straight to stdout (jest's console adds a stack trace to every line). */
export const out = (line: string) => process.stdout.write(`[faults ${new Date().toISOString().slice(11, 19)}] ${line}\n`);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A whole system per suite file, started before its test and removed after, whatever happened. */
export function useSystem(): () => FaultSystem {
  let system: FaultSystem | undefined;
  let starting: Promise<FaultSystem> | undefined;
  beforeAll(async () => {
    starting = FaultSystem.start(out);
    system = await starting;
  }, 420_000);
  afterAll(async () => {
    // a start that outlived beforeAll's timeout still ends in a system: it is removed too, never left running
    await (system ?? (await starting?.catch(() => undefined)))?.dispose();
  }, 420_000);
  return () => {
    if (!system) throw new Error('the system did not start');
    return system;
  };
}

/** Waits (bounded) until `inFlight` holds: the fault must hit messages on their way, not an idle system. */
export async function whenInFlight(inFlight: () => boolean | Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await inFlight())) {
    if (Date.now() > deadline) throw new Error(`no message in flight within ${timeoutMs / 1000} s: is the load running?`);
    await sleep(50);
  }
}

/**
 * The suite's verdict: printed in full, then compared as a whole (so a failure shows every defect at once, not the
 * first). Nothing lost, nothing seen or stored twice, every execution with its verdict, nothing dead-lettered,
 * no app exiting on its own.
 */
export function expectNothingLost(counts: FaultCounts, extra: Record<string, { actual: unknown; expected: unknown }> = {}): void {
  out(`\n${formatCounts(counts)}\n`);
  expect({
    busLost: counts.bus.lost,
    busSeenTwice: counts.bus.duplicated,
    calderaLost: counts.caldera.lost,
    calderaStoredTwice: counts.caldera.duplicated,
    executionsWithoutVerdict: counts.caldera.withoutVerdict,
    errorVerdicts: counts.caldera.errorVerdicts,
    deadLettered: counts.deadLettered,
    appsExitedOnTheirOwn: counts.crashes.map((c) => `${c.app} (${c.exit})`),
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v.actual])),
  }).toEqual({
    busLost: [],
    busSeenTwice: [],
    calderaLost: [],
    calderaStoredTwice: [],
    executionsWithoutVerdict: [],
    errorVerdicts: 0,
    deadLettered: [],
    appsExitedOnTheirOwn: [],
    ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, v.expected])),
  });
  expect(counts.bus.accepted).toBeGreaterThan(0);
  expect(counts.caldera.confirmed).toBeGreaterThan(0);
}
