import { ChildProcess, spawn } from 'node:child_process';

/** How to run one supervised app. */
export interface AppCommand {
  name: string;
  command: string;
  args: string[];
  cwd?: string;
  env?: NodeJS.ProcessEnv;
}

export interface RestartPolicy {
  /** the wait before the first restart; each quick crash after it doubles the wait */
  initialDelayMs: number;
  maxDelayMs: number;
  /** a run that lasted this long was healthy: the next crash starts again from initialDelayMs */
  healthyAfterMs: number;
  /** after SIGTERM, how long an app gets to shut down before SIGKILL (as `docker stop` does) */
  stopGraceMs: number;
}

export const DEFAULT_POLICY: RestartPolicy = { initialDelayMs: 1000, maxDelayMs: 30_000, healthyAfterMs: 60_000, stopGraceMs: 10_000 };

/** The wait before restart number `attempt` (0 for the first after a healthy run): exponential, capped. */
export function restartDelay(attempt: number, policy: Pick<RestartPolicy, 'initialDelayMs' | 'maxDelayMs'>): number {
  return Math.min(policy.maxDelayMs, policy.initialDelayMs * 2 ** Math.min(attempt, 30));
}

interface Supervised {
  app: AppCommand;
  child?: ChildProcess;
  startedAt: number;
  /** restarts since the last healthy run */
  attempt: number;
  restartTimer?: NodeJS.Timeout;
  exited?: Promise<void>;
}

export interface SupervisorHooks {
  log?: (line: string) => void;
  /** each new process of an app (first start and every restart), e.g. to prefix its output */
  spawned?: (app: string, child: ChildProcess) => void;
}

/**
 * Runs apps as a container runtime with a restart policy would: an app that exits without being asked to is started
 * again after an exponential backoff, with a log line saying so, and its siblings are left alone. `stop()` sends
 * SIGTERM to every app, SIGKILL after the grace period, and restarts nothing from then on.
 */
export class Supervisor {
  private readonly apps = new Map<string, Supervised>();
  private stopping: Promise<void> | undefined;
  private readonly log: (line: string) => void;

  constructor(
    apps: AppCommand[],
    private readonly policy: RestartPolicy = DEFAULT_POLICY,
    private readonly hooks: SupervisorHooks = {},
  ) {
    this.log = hooks.log ?? ((line) => console.log(line));
    for (const app of apps) this.apps.set(app.name, { app, startedAt: 0, attempt: 0 });
  }

  start(): void {
    for (const entry of this.apps.values()) this.spawn(entry);
  }

  /** The app's current process id (undefined while it waits to be restarted). */
  pid(app: string): number | undefined {
    const child = this.apps.get(app)?.child;
    return child && child.exitCode === null && child.signalCode === null ? child.pid : undefined;
  }

  stop(): Promise<void> {
    this.stopping ??= Promise.all(
      [...this.apps.values()].map(async (entry) => {
        clearTimeout(entry.restartTimer);
        const child = entry.child;
        if (!child || !entry.exited || child.exitCode !== null || child.signalCode !== null) return;
        child.kill('SIGTERM');
        const killer = setTimeout(() => {
          this.log(`${entry.app.name}: still running ${this.policy.stopGraceMs} ms after SIGTERM, sending SIGKILL`);
          child.kill('SIGKILL');
        }, this.policy.stopGraceMs);
        await entry.exited;
        clearTimeout(killer);
      }),
    ).then(() => undefined);
    return this.stopping;
  }

  private spawn(entry: Supervised): void {
    const { app } = entry;
    // a process group of its own: Ctrl-C reaches the supervisor only, which stops the apps itself (no restart race)
    const child = spawn(app.command, app.args, { cwd: app.cwd, env: app.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    entry.child = child;
    entry.startedAt = Date.now();
    entry.exited = new Promise((resolve) => child.once('exit', () => resolve()));
    child.once('error', (error) => this.log(`${app.name}: could not start: ${error.message}`));
    child.once('exit', (code, signal) => this.exited(entry, child, code, signal));
    this.hooks.spawned?.(app.name, child);
  }

  private exited(entry: Supervised, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ?? `code ${code}`;
    if (this.stopping) {
      this.log(`${entry.app.name}: exited (${how})`);
      return;
    }
    if (Date.now() - entry.startedAt >= this.policy.healthyAfterMs) entry.attempt = 0;
    const delay = restartDelay(entry.attempt, this.policy);
    entry.attempt += 1;
    this.log(`${entry.app.name}: exited unexpectedly (${how}) after ${Date.now() - entry.startedAt} ms; restart #${entry.attempt} in ${delay} ms`);
    entry.restartTimer = setTimeout(() => {
      if (!this.stopping && entry.child === child) this.spawn(entry);
    }, delay);
  }
}

/** Offset between the HTTP ports of an app's replicas (api 3000, api#2 3100, …): clear of every app's own port. */
export const REPLICA_PORT_STEP = 100;

/**
 * `replicas` processes of each app: the first as it is, the others named `<app>#<n>` with their own PORT (the
 * app's default plus 100 per replica; PORT in the environment would make them collide) and their own METRICS_PORT
 * when one is set.
 */
export function replicaCommands(apps: AppCommand[], replicas: number, defaultPort: (app: string) => number | undefined): AppCommand[] {
  if (replicas <= 1) return apps;
  return apps.flatMap((app) =>
    Array.from({ length: replicas }, (_, i) => {
      if (i === 0) return app;
      const env = { ...app.env };
      const base = defaultPort(app.name);
      if (base === undefined) throw new Error(`no default port for ${app.name}`);
      env['PORT'] = String(base + i * REPLICA_PORT_STEP);
      if (env['METRICS_PORT'] && env['METRICS_PORT'] !== '0') env['METRICS_PORT'] = String(Number(env['METRICS_PORT']) + i * REPLICA_PORT_STEP);
      return { ...app, name: `${app.name}#${i + 1}`, env };
    }),
  );
}
