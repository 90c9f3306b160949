import { eventually } from '@purple/testing';
import { AppCommand, RestartPolicy, Supervisor, replicaCommands, restartDelay } from './supervisor';

/** A stand-in app: a Node process that runs until it is signalled (SIGTERM ends it like the apps' shutdown does). */
const idleApp = (name: string): AppCommand => ({
  name,
  command: process.execPath,
  args: ['-e', 'process.on("SIGTERM", () => process.exit(0)); setInterval(() => undefined, 1000)'],
});

const FAST: RestartPolicy = { initialDelayMs: 50, maxDelayMs: 400, healthyAfterMs: 60_000, stopGraceMs: 5_000 };

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('Supervisor (npm start)', () => {
  let supervisor: Supervisor | undefined;
  afterEach(async () => {
    await supervisor?.stop();
    supervisor = undefined;
  });

  it('restarts an app killed with SIGKILL, with a log line, while its sibling keeps running under the same pid', async () => {
    const lines: string[] = [];
    supervisor = new Supervisor([idleApp('victim'), idleApp('sibling')], FAST, { log: (line) => lines.push(line) });
    supervisor.start();
    const victimPid = await eventually(async () => supervisor?.pid('victim'));
    const siblingPid = await eventually(async () => supervisor?.pid('sibling'));

    process.kill(victimPid, 'SIGKILL');

    const restartedPid = await eventually(async () => {
      const pid = supervisor?.pid('victim');
      return pid !== undefined && pid !== victimPid ? pid : undefined;
    }, 10_000, 20);
    expect(alive(restartedPid)).toBe(true);
    expect(alive(victimPid)).toBe(false);
    expect(supervisor.pid('sibling')).toBe(siblingPid);
    expect(lines).toContainEqual(expect.stringMatching(/^victim: exited unexpectedly \(SIGKILL\) after \d+ ms; restart #1 in 50 ms$/));
    expect(lines.filter((line) => line.startsWith('sibling'))).toEqual([]);
  });

  it('backs off exponentially, capped, for an app that keeps crashing', async () => {
    const lines: string[] = [];
    const crashing: AppCommand = { name: 'crasher', command: process.execPath, args: ['-e', 'process.exit(3)'] };
    supervisor = new Supervisor([crashing], FAST, { log: (line) => lines.push(line) });
    supervisor.start();

    await eventually(async () => lines.length >= 5, 20_000, 20);
    const delays = lines.slice(0, 5).map((line) => Number(/code 3\) after \d+ ms; restart #\d+ in (\d+) ms$/.exec(line)?.[1]));
    expect(delays).toEqual([50, 100, 200, 400, 400]);
  });

  it('stops every app on stop() and restarts none of them', async () => {
    const lines: string[] = [];
    supervisor = new Supervisor([idleApp('a'), idleApp('b')], FAST, { log: (line) => lines.push(line) });
    supervisor.start();
    const pids = [await eventually(async () => supervisor?.pid('a')), await eventually(async () => supervisor?.pid('b'))];

    await supervisor.stop();

    expect(pids.map(alive)).toEqual([false, false]);
    expect([supervisor.pid('a'), supervisor.pid('b')]).toEqual([undefined, undefined]);
    // SIGTERM may land before the stand-in installed its handler: either way it ended, and was not restarted
    expect(lines.sort()).toEqual([expect.stringMatching(/^a: exited \((code 0|SIGTERM)\)$/), expect.stringMatching(/^b: exited \((code 0|SIGTERM)\)$/)]);
  });

  it('computes the restart delay from the attempt number', () => {
    const policy = { initialDelayMs: 1000, maxDelayMs: 30_000 };
    expect([0, 1, 2, 3, 4, 5, 6, 100].map((attempt) => restartDelay(attempt, policy))).toEqual([1000, 2000, 4000, 8000, 16_000, 30_000, 30_000, 30_000]);
  });
});

describe('npm start --replicas (issue 14)', () => {
  const apps = [
    { name: 'api', command: 'node', args: ['api.js'], env: { LOG_LEVEL: 'info' } },
    { name: 'dispatcher', command: 'node', args: ['dispatcher.js'], env: { METRICS_PORT: '9400' } },
  ];
  const ports: Record<string, number> = { api: 3000, dispatcher: 3003 };

  it('runs each app N times, the others named app#n on their own ports (and metrics ports)', () => {
    const commands = replicaCommands(apps, 2, (name) => ports[name]);
    expect(commands.map((c) => [c.name, c.env?.['PORT'], c.env?.['METRICS_PORT']])).toEqual([
      ['api', undefined, undefined],
      ['api#2', '3100', undefined],
      ['dispatcher', undefined, '9400'],
      ['dispatcher#2', '3103', '9500'],
    ]);
    // the first replica's environment is left alone
    expect(apps[0].env).toEqual({ LOG_LEVEL: 'info' });
    expect(replicaCommands(apps, 1, (name) => ports[name])).toBe(apps);
    // every port distinct, even at 3 replicas of every app
    const all = replicaCommands(apps, 3, (name) => ports[name]).map((c) => c.env?.['PORT'] ?? String(ports[c.name]));
    expect(new Set(all).size).toBe(all.length);
  });
});
