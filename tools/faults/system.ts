import { FakeSplunk, ServiceProcess, splunkEvent } from '@purple/detection/testing';
import {
  BrokerNamespace,
  PrivateBroker,
  PrivatePostgres,
  RoledTestDatabase,
  createBrokerNamespace,
  createRoledTestDatabase,
  startPrivateBroker,
  startPrivatePostgres,
} from '@purple/testing';
import { AppName, roleOf } from '@purple/topology';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startBuiltApp } from './app-process';
import { SYSTEM_APPS } from './apps';

export { SYSTEM_APPS };
export type SystemApp = (typeof SYSTEM_APPS)[number] & AppName;

export const ADMIN_ID = 'faults-admin';
const SPLUNK_TOKEN = 'faults-splunk-token-0123456789';
/** generous: on a shared 2-core machine under load ≈ 60 an app took over 3 minutes to answer ready */
const APP_START_TIMEOUT_MS = 300_000;

/**
 * The whole system on a broker node and a PostgreSQL server of its own (so they can be stopped and killed), with
 * every app in a process of its own as in production. Only what was started here is stopped, killed or removed.
 */
export class FaultSystem {
  readonly apps = new Map<SystemApp, ServiceProcess>();
  /** every process an app had, for the defects report (exit codes and last lines of those that died) */
  readonly crashed: Array<{ app: SystemApp; pid: number | undefined; exit: string; at: number; lastLines: string[] }> = [];
  readonly adminSecret = randomBytes(24).toString('base64url');
  /** apps stopped on purpose, not to be restarted as crashed */
  private readonly away = new Set<SystemApp>();

  private constructor(
    readonly broker: PrivateBroker,
    readonly postgres: PrivatePostgres,
    readonly namespace: BrokerNamespace,
    /** each app connects as its own PostgreSQL role, provisioned as production's; the harness reads as the superuser */
    readonly database: RoledTestDatabase,
    readonly splunk: FakeSplunk,
    private readonly log: (line: string) => void,
  ) {}

  static async start(log: (line: string) => void): Promise<FaultSystem> {
    const started = Date.now();
    const [broker, postgres, splunk] = await Promise.all([startPrivateBroker({ log }), startPrivatePostgres({ log }), FakeSplunk.start({ token: SPLUNK_TOKEN })]);
    splunk.respond = (search) =>
      search.search.includes('user=administrator') ? { events: [splunkEvent(new Date('2024-01-15T10:30:07Z'), '1:42', { user: 'administrator' })] } : { events: [] };
    try {
      const namespace = await createBrokerNamespace({ namespace: `f${randomBytes(4).toString('hex')}`, settings: broker.settings });
      const database = await createRoledTestDatabase(postgres.serverUrl);
      const system = new FaultSystem(broker, postgres, namespace, database, splunk, log);
      const starting = await Promise.allSettled(SYSTEM_APPS.map((app) => system.startApp(app)));
      const failed = starting.find((r): r is PromiseRejectedResult => r.status === 'rejected');
      if (failed) {
        // the apps that did start go too: nothing of a system that never came up is left running
        const procs = [...system.apps.values()];
        system.apps.clear(); // stopped on purpose: not a crash
        await Promise.all(procs.map((p) => p.stop()));
        throw failed.reason;
      }
      log(`system up in ${Math.round((Date.now() - started) / 1000)} s: ${SYSTEM_APPS.join(', ')}`);
      return system;
    } catch (error) {
      await Promise.all([broker.dispose(), postgres.dispose(), splunk.close()]);
      throw error;
    }
  }

  /** the superuser's URL of the system's database (the harness's own reads) */
  get databaseUrl(): string {
    return this.database.url;
  }

  env(app: SystemApp): Record<string, string> {
    const common = {
      ...this.namespace.env(),
      ...this.database.env(),
      LOG_LEVEL: 'info',
      WEBHOOK_SECRET_KEY: 'f'.repeat(48),
    };
    switch (app) {
      case 'api':
        return {
          ...common,
          RABBITMQ_MANAGEMENT_URL: this.broker.settings.managementUrl,
          TOKEN_SIGNING_KEY: 'a'.repeat(64),
          ADMIN_CLIENT_ID: ADMIN_ID,
          ADMIN_CLIENT_SECRET: this.adminSecret,
        };
      case 'api-worker':
      case 'agent-worker':
      case 'dispatcher':
      case 'result-consumer':
      case 'caldera-consumer':
        return {
          ...common,
          SPLUNK_URL: this.splunk.url,
          SPLUNK_TOKEN,
          DETECTION_INITIAL_DELAY_SECONDS: '0',
          DETECTION_RETRY_INTERVAL_SECONDS: '1',
          DETECTION_WINDOW_AFTER_SECONDS: '2',
          DISPATCH_SWEEP_MS: '1000',
          // small, so the poison suite's oversized message stays small too
          MAX_MESSAGE_BYTES: '65536',
        };
      default:
        return common;
    }
  }

  async startApp(app: SystemApp): Promise<ServiceProcess> {
    const proc = await startBuiltApp(app, this.env(app), APP_START_TIMEOUT_MS);
    this.apps.set(app, proc);
    proc.child.once('exit', (code, signal) => {
      // an exit the suite did not cause (kill9/stop remove the app from the map first) is a defect
      if (this.apps.get(app) === proc) {
        this.crashed.push({ app, pid: proc.child.pid, exit: signal ?? `code ${code}`, at: Date.now(), lastLines: [lastError(proc.lines())] });
        this.log(`DEFECT: ${app} (pid ${proc.child.pid}) exited on its own (${signal ?? `code ${code}`}); its last error:\n  ${lastError(proc.lines())}`);
      }
    });
    return proc;
  }

  /** SIGKILL, then a new process of the app (as a restart policy would), resolving once it is ready again. */
  async kill9AndRestart(app: SystemApp): Promise<void> {
    const proc = this.apps.get(app);
    this.apps.delete(app);
    await proc?.kill();
    await this.startApp(app);
  }

  /** SIGTERM, and no restart until comeBack() (a consumer that is away: the backpressure suite). */
  async stopApp(app: SystemApp): Promise<void> {
    const proc = this.apps.get(app);
    this.away.add(app);
    this.apps.delete(app);
    await proc?.stop();
  }

  async comeBack(app: SystemApp): Promise<void> {
    this.away.delete(app);
    if (!this.apps.has(app)) await this.startApp(app);
  }

  /** Apps that died on their own are started again, as a supervisor would, so the suite can go on counting. */
  async restartCrashed(): Promise<SystemApp[]> {
    const dead = SYSTEM_APPS.filter((app) => {
      if (this.away.has(app)) return false;
      const proc = this.apps.get(app);
      return !proc || proc.child.exitCode !== null || proc.child.signalCode !== null;
    });
    for (const app of dead) this.apps.delete(app);
    await Promise.all(dead.map((app) => this.startApp(app)));
    return dead;
  }

  /** Names of the apps whose /health/ready does not answer 200 right now. */
  async notReady(): Promise<string[]> {
    const answers = await Promise.all(
      SYSTEM_APPS.filter((app) => !this.away.has(app)).map(async (app) => {
        const proc = this.apps.get(app);
        if (!proc) return app;
        const ok = await fetch(`http://127.0.0.1:${proc.port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.status === 200,
          () => false,
        );
        return ok ? undefined : app;
      }),
    );
    return answers.filter((a): a is SystemApp => a !== undefined);
  }

  /** The apps with no broker connection listed by the management API (its list lags the broker by a few seconds). */
  async appsWithoutConnection(): Promise<SystemApp[]> {
    const connections = await this.namespace.management().get<Array<{ user: string }>>('/api/connections');
    const users = new Set(connections.map((c) => c.user));
    return SYSTEM_APPS.filter((app) => !users.has(roleOf(app, { namespace: this.namespace.namespace }).user));
  }

  /** The apps' broker connections (not the suite's own load connections), closed through the management API. */
  async closeAppConnections(reason: string): Promise<number> {
    const appUsers = new Set(SYSTEM_APPS.map((app) => roleOf(app, { namespace: this.namespace.namespace }).user));
    const management = this.namespace.management();
    const connections = await management.get<Array<{ name: string; user: string }>>('/api/connections');
    const ours = connections.filter((c) => appUsers.has(c.user));
    await Promise.all(
      ours.map((c) =>
        fetch(`${this.broker.settings.managementUrl}/api/connections/${encodeURIComponent(c.name)}`, {
          method: 'DELETE',
          headers: {
            authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}`,
            'x-reason': reason,
          },
        }),
      ),
    );
    return ours.length;
  }

  /** One query on a connection of its own (the database may have been restarted since the last one). */
  async query<T extends Record<string, unknown>>(text: string, values: unknown[] = []): Promise<T[]> {
    const client = new Client({ connectionString: this.databaseUrl });
    client.on('error', () => undefined); // a server going away mid-query rejects the query, which is what counts
    await client.connect();
    try {
      return (await client.query<T>(text, values)).rows;
    } finally {
      await client.end().catch(() => undefined);
    }
  }

  async dispose(): Promise<void> {
    const procs = [...this.apps.values()];
    this.apps.clear();
    await Promise.all(procs.map((p) => p.stop()));
    await this.namespace.dispose().catch(() => undefined);
    await this.database.drop().catch(() => undefined);
    await Promise.all([this.broker.dispose(), this.postgres.dispose(), this.splunk.close()]);
  }
}

/** The lines from the last one naming an error (an uncaught error's message and the top of its stack). */
function lastError(lines: string[]): string {
  const recent = lines.slice(-60);
  let from = -1;
  recent.forEach((line, i) => {
    if (/error/i.test(line) && !/^\s+at /.test(line)) from = i;
  });
  return (from < 0 ? recent.slice(-3) : recent.slice(from, from + 4)).map((l) => l.slice(0, 500)).join('\n  ');
}
