import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { buildApps, errorLines } from './app-process';
import { BusLoad, CalderaLoad } from './load';
import { FaultCounts, baseline, formatCounts, settle, timeToReady } from './report';
import { out, sleep } from './suite';
import { FaultSystem, Instance, SYSTEM_APPS, SystemApp } from './system';

/**
 * `npm run soak -- --bus 100000 --executions 10000`: the fault suites' system (a private RabbitMQ node, a private
 * PostgreSQL, every app as a process) under sustained load on both systems while faults repeat, one every
 * `--pause` seconds: every app's connections closed, PostgreSQL stopped, the broker app stopped and started, and
 * (during the first 40 % of the load, so the last half measures processes that lived through it) kill -9 of one app
 * after another. Ends when `--bus` messages were accepted by POST /send and `--executions` Caldera results were
 * confirmed, then waits for all of them to take effect. Fails (exit 1) on any loss, anything seen or stored twice,
 * an execution without its verdict, a dead letter, an app exiting on its own, or an app whose RSS grew more than
 * 10 % over the last half of the run. Not part of CI or `npm test`.
 */
const { values: args } = parseArgs({
  options: {
    bus: { type: 'string', default: '100000' },
    executions: { type: 'string', default: '10000' },
    /** bus sender/receiver pairs sending at once */
    pairs: { type: 'string', default: '4' },
    /** seconds between two faults */
    pause: { type: 'string', default: '20' },
    /** seconds PostgreSQL and the broker app stay down in their faults */
    down: { type: 'string', default: '15' },
    /** ms between two Caldera results (0: as fast as confirms come) */
    'caldera-interval': { type: 'string', default: '0' },
  },
});
const BUS = Number(args.bus);
const EXECUTIONS = Number(args.executions);
const PAIRS = Number(args.pairs);
const PAUSE_MS = Number(args.pause) * 1000;
const DOWN_MS = Number(args.down) * 1000;
const RSS_EVERY_MS = 5000;
const RSS_MAX_GROWTH = 0.1;
/** kill -9 faults only before this share of the load: the last half then measures processes that lived through it */
const KILLS_UNTIL = 0.4;

interface RssSample {
  at: number;
  app: Instance;
  pid: number;
  kb: number;
}

/** VmRSS of a process from /proc/<pid>/status, in kB (undefined once it is gone). */
export function rssKb(pid: number): number | undefined {
  try {
    const match = /^VmRSS:\s+(\d+)\s+kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Per app, over the last half of the run, the process alive at the end: RSS at the start of that window (mean of its
 * first fifth) against RSS at its end (mean of its last fifth).
 */
export function rssVerdicts(samples: RssSample[], from: number, apps: readonly SystemApp[]) {
  return apps.map((app) => {
    const mine = samples.filter((s) => s.app === app);
    const lastPid = mine.at(-1)?.pid;
    const window = mine.filter((s) => s.pid === lastPid && s.at >= from);
    const fifth = Math.max(1, Math.floor(window.length / 5));
    const mean = (xs: RssSample[]) => xs.reduce((a, s) => a + s.kb, 0) / Math.max(1, xs.length);
    const start = mean(window.slice(0, fifth));
    const end = mean(window.slice(-fifth));
    const growth = start > 0 ? end / start - 1 : 0;
    const kbs = window.map((s) => s.kb);
    return {
      app,
      samples: window.length,
      startMb: start / 1024,
      endMb: end / 1024,
      minMb: Math.min(...kbs) / 1024,
      maxMb: Math.max(...kbs) / 1024,
      growth,
      restartedInWindow: mine.some((s) => s.pid !== lastPid && s.at >= from),
      flat: window.length >= 4 && growth <= RSS_MAX_GROWTH,
    };
  });
}

async function main(): Promise<number> {
  const started = Date.now();
  out(`soak: ${BUS} bus messages over ${PAIRS} pairs, ${EXECUTIONS} executions, a fault every ${PAUSE_MS / 1000} s`);
  await buildApps(SYSTEM_APPS);
  const system = await FaultSystem.start(out);
  // Ctrl-C or SIGTERM: the private servers and the apps go too (nothing of the soak is left running)
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      out(`${signal}: stopping the soak`);
      void system.dispose().finally(() => process.exit(130));
    });
  }
  const samples: RssSample[] = [];
  const sampler = setInterval(() => {
    for (const [app, proc] of system.apps) {
      const kb = proc.child.pid ? rssKb(proc.child.pid) : undefined;
      if (kb !== undefined && proc.child.pid) samples.push({ at: Date.now(), app, pid: proc.child.pid, kb });
    }
  }, RSS_EVERY_MS);
  const buses: BusLoad[] = [];
  let caldera: CalderaLoad | undefined;
  try {
    const before = await baseline(system);
    for (let i = 0; i < PAIRS; i++) buses.push(await BusLoad.create(system, `soak${i}`, 0, Math.ceil(BUS / PAIRS)));
    buses.forEach((b) => b.start());
    caldera = new CalderaLoad(system, 'soak', Number(args['caldera-interval']), () => undefined, EXECUTIONS).start();
    const loadStarted = Date.now();
    const load = caldera;
    const accepted = () => buses.reduce((a, b) => a + b.accepted.length, 0);
    // both loads run to the end together, so the last half measures every app under load, not idle
    load.pace = () => load.confirmed.length / EXECUTIONS <= accepted() / BUS + 0.01;
    const received = () => buses.reduce((a, b) => a + b.received.size, 0);
    const progress = () => Math.min(accepted() / BUS, load.confirmed.length / EXECUTIONS);
    const done = () => buses.every((b) => b.finishedSending) && load.confirmed.length >= EXECUTIONS;

    const faults: Array<{ name: string; kill?: boolean; run: () => Promise<void> }> = [
      { name: 'every app connection closed', run: async () => void (await system.closeAppConnections('soak: connection loss')) },
      {
        name: `PostgreSQL stopped ${DOWN_MS / 1000} s`,
        run: async () => {
          await system.postgres.stop();
          await sleep(DOWN_MS);
          await system.postgres.start();
        },
      },
      {
        name: `broker app stopped ${DOWN_MS / 1000} s`,
        run: async () => {
          await system.broker.stopApp();
          await sleep(DOWN_MS);
          await system.broker.startApp();
        },
      },
      ...SYSTEM_APPS.map((app) => ({ name: `kill -9 ${app}`, kill: true, run: () => system.kill9AndRestart(app) })),
    ];
    const recoverMs: number[] = [];
    const faultLog: Record<string, number> = {};
    let next = 0;
    let lastReport = 0;
    while (!done()) {
      const waitUntil = Date.now() + PAUSE_MS;
      while (Date.now() < waitUntil && !done()) {
        if (Date.now() - lastReport > 30_000) {
          lastReport = Date.now();
          const rss = [...system.apps].map(([app, p]) => `${app} ${Math.round((rssKb(p.child.pid ?? 0) ?? 0) / 1024)}`).join(', ');
          out(`bus ${accepted()}/${BUS} accepted, ${received()} received; executions ${load.confirmed.length}/${EXECUTIONS} confirmed; RSS MB: ${rss}`);
        }
        await sleep(500);
      }
      if (done()) break;
      // kill -9 only early in the run; later the cycle skips them
      let fault = faults[next++ % faults.length];
      while (fault.kill && progress() >= KILLS_UNTIL) fault = faults[next++ % faults.length];
      const at = Date.now();
      await fault.run();
      recoverMs.push(await timeToReady(system, at, 300_000));
      const key = fault.kill ? 'kill -9 of an app' : fault.name;
      faultLog[key] = (faultLog[key] ?? 0) + 1;
      out(`fault: ${fault.name}; every app ready again ${((Date.now() - at) / 1000).toFixed(1)} s after it began`);
    }
    const loadEnded = Date.now();
    out(`load done in ${((loadEnded - loadStarted) / 1000).toFixed(0)} s; waiting for everything to take effect`);
    const counts = await settle(system, `soak: ${faultCount(faultLog)} faults`, before, buses, load, recoverMs, 1_800_000);
    clearInterval(sampler);
    const ended = Date.now();
    const rss = rssVerdicts(samples, loadStarted + (ended - loadStarted) / 2, SYSTEM_APPS);
    process.stdout.write(`\n${summary(counts, faultLog, rss, { started, loadStarted, loadEnded, ended })}\n`);
    // a 500 is a defect to find: the apps' error lines (each distinct message once, with how often)
    const errors = new Map<string, number>();
    for (const line of errorLines) {
      const key = line.replace(/"(time|pid|correlation_id|req|id)":("[^"]*"|\d+|\{[^}]*\}),?/g, '').slice(0, 300);
      errors.set(key, (errors.get(key) ?? 0) + 1);
    }
    if (errors.size) process.stdout.write(`  error lines (${errorLines.length}):\n${[...errors].slice(0, 15).map(([l, n]) => `    ${n}× ${l}`).join('\n')}\n`);
    const failed =
      counts.bus.lost.length + counts.bus.duplicated.length + counts.caldera.lost.length + counts.caldera.duplicated.length + counts.caldera.withoutVerdict.length >
        0 ||
      counts.caldera.errorVerdicts > 0 ||
      counts.deadLettered.length > 0 ||
      counts.crashes.length > 0 ||
      rss.some((r) => !r.flat) ||
      counts.bus.accepted < BUS ||
      counts.caldera.confirmed < EXECUTIONS;
    process.stdout.write(failed ? 'SOAK FAILED\n' : 'SOAK PASSED\n');
    return failed ? 1 : 0;
  } finally {
    clearInterval(sampler);
    await Promise.all([...buses.map((b) => b.abort()), caldera?.abort()]);
    await system.dispose();
  }
}

const faultCount = (log: Record<string, number>) => Object.values(log).reduce((a, b) => a + b, 0);

function summary(
  counts: FaultCounts,
  faultLog: Record<string, number>,
  rss: ReturnType<typeof rssVerdicts>,
  t: { started: number; loadStarted: number; loadEnded: number; ended: number },
): string {
  const s = (ms: number) => `${Math.round(ms / 1000)} s`;
  const recover = counts.recoverMs.length ? `${(Math.min(...counts.recoverMs) / 1000).toFixed(1)}–${(Math.max(...counts.recoverMs) / 1000).toFixed(1)} s` : '-';
  return [
    '══ soak summary',
    formatCounts({ ...counts, recoverMs: [] }),
    `  faults: ${Object.entries(faultLog).map(([f, n]) => `${f} ×${n}`).join(', ')}; every app ready again after each in ${recover}`,
    `  time: system up ${s(t.loadStarted - t.started)}, load ${s(t.loadEnded - t.loadStarted)} ` +
      `(${Math.round((counts.bus.accepted * 1000) / (t.loadEnded - t.loadStarted))} bus msg/s, ${Math.round((counts.caldera.confirmed * 1000) / (t.loadEnded - t.loadStarted))} results/s), ` +
      `drain ${s(t.ended - t.loadEnded)}`,
    `  RSS over the last half (the process alive at the end; growth ≤ ${RSS_MAX_GROWTH * 100} %):`,
    ...rss.map(
      (r) =>
        `    ${r.app.padEnd(17)} ${r.startMb.toFixed(0)} → ${r.endMb.toFixed(0)} MB (${r.growth >= 0 ? '+' : ''}${(r.growth * 100).toFixed(1)} %; min ${r.minMb.toFixed(0)}, max ${r.maxMb.toFixed(0)}; ${r.samples} samples${r.restartedInWindow ? '; restarted in the window' : ''}) ${r.flat ? 'flat' : 'NOT FLAT'}`,
    ),
  ].join('\n');
}

main().then(
  (code) => process.exit(code),
  (error: Error) => {
    process.stderr.write(`soak: ${error.stack ?? error.message}\n`);
    process.exit(1);
  },
);
