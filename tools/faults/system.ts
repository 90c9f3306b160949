import { FakeSplunk, ServiceProcess, splunkEvent } from '@purple/detection/testing';
import {
  BrokerNamespace,
  PrivateBroker,
  PrivateCluster,
  PrivatePostgres,
  RoledTestDatabase,
  createBrokerNamespace,
  createRoledTestDatabase,
  startPrivateBroker,
  startPrivateCluster,
  startPrivatePostgres,
} from '@purple/testing';
import { AppName, roleOf } from '@purple/topology';
import { randomBytes } from 'node:crypto';
import { Client } from 'pg';
import { startBuiltApp } from './app-process';
import { SYSTEM_APPS } from './apps';

export { SYSTEM_APPS };
export type SystemApp = (typeof SYSTEM_APPS)[number] & AppName;
/** one process of an app: `api`, or its second replica `api#2` */
export type Instance = SystemApp | `${SystemApp}#${number}`;
export const appOf = (instance: Instance): SystemApp => instance.split('#')[0] as SystemApp;

export interface SystemOptions {
  /** a cluster of this many RabbitMQ nodes instead of one node (every app gets RABBITMQ_URLS) */
  clusterSize?: number;
  /** processes per app (default 1) */
  replicas?: number;
  /** the apps to run (default: every one of SYSTEM_APPS) */
  apps?: readonly SystemApp[];
  /** variables added to (or overriding) an app's environment */
  env?: Partial<Record<SystemApp, Record<string, string>>>;
}

export const ADMIN_ID = 'faults-admin';
const SPLUNK_TOKEN = 'faults-splunk-token-0123456789';
/** generous: on a shared 2-core machine under load ≈ 60 an app took over 3 minutes to answer ready */
const APP_START_TIMEOUT_MS = 300_000;

/**
 * The whole system on a broker node and a PostgreSQL server of its own (so they can be stopped and killed), with
 * every app in a process of its own as in production. Only what was started here is stopped, killed or removed.
 */
export class FaultSystem {
  readonly apps = new Map<Instance, ServiceProcess>();
  /** every process an app had, for the defects report (exit codes and last lines of those that died) */
  readonly crashed: Array<{ app: Instance; pid: number | undefined; exit: string; at: number; lastLines: string[] }> = [];
  readonly adminSecret = randomBytes(24).toString('base64url');
  /** apps stopped on purpose, not to be restarted as crashed */
  private readonly away = new Set<Instance>();
  /** random per system, so the security suite can look for them in every answer */
  readonly tokenSigningKey = randomBytes(32).toString('hex');
  readonly webhookSecretKey = randomBytes(24).toString('hex');
  /** every app process, in start order: `api`, `api#2`, `bus-router`, … */
  readonly instances: Instance[];
  private nextApi = 0;

  private constructor(
    /** the single node, or the cluster's first node */
    readonly broker: PrivateBroker,
    readonly cluster: PrivateCluster | undefined,
    readonly postgres: PrivatePostgres,
    readonly namespace: BrokerNamespace,
    /** each app connects as its own PostgreSQL role, provisioned as production's; the harness reads as the superuser */
    readonly database: RoledTestDatabase,
    readonly splunk: FakeSplunk,
    private readonly log: (line: string) => void,
    private readonly options: SystemOptions,
  ) {
    const replicas = options.replicas ?? 1;
    this.instances = this.appNames.flatMap((app) => Array.from({ length: replicas }, (_, i) => (i === 0 ? app : (`${app}#${i + 1}` as Instance))));
  }

  /** The apps the system runs (all of SYSTEM_APPS unless the options named fewer). */
  get appNames(): readonly SystemApp[] {
    return this.options.apps ?? SYSTEM_APPS;
  }

  get replicas(): number {
    return this.options.replicas ?? 1;
  }

  static async start(log: (line: string) => void, options: SystemOptions = {}): Promise<FaultSystem> {
    const started = Date.now();
    const [cluster, postgres, splunk] = await Promise.all([
      options.clusterSize ? startPrivateCluster({ size: options.clusterSize, log }) : startPrivateBroker({ log }).then((node) => ({ node })),
      startPrivatePostgres({ log }),
      FakeSplunk.start({ token: SPLUNK_TOKEN }),
    ]);
    const [broker, privateCluster] = 'node' in cluster ? [cluster.node, undefined] : [cluster.nodes[0], cluster];
    const settings = privateCluster ? privateCluster.settings : broker.settings;
    splunk.respond = (search) =>
      search.search.includes('user=administrator') ? { events: [splunkEvent(new Date('2024-01-15T10:30:07Z'), '1:42', { user: 'administrator' })] } : { events: [] };
    try {
      const namespace = await createBrokerNamespace({ namespace: `f${randomBytes(4).toString('hex')}`, settings });
      const database = await createRoledTestDatabase(postgres.serverUrl);
      const system = new FaultSystem(broker, privateCluster, postgres, namespace, database, splunk, log, options);
      // one replica of every app at a time: fourteen processes loading at once starve each other on two cores
      for (let replica = 1; replica <= system.replicas; replica++) {
        const wave = system.instances.filter((i) => (i.split('#')[1] ?? '1') === String(replica));
        const starting = await Promise.allSettled(wave.map((instance) => system.startApp(instance)));
        const failed = starting.find((r): r is PromiseRejectedResult => r.status === 'rejected');
        if (failed) {
          // the apps that did start go too: nothing of a system that never came up is left running
          const procs = [...system.apps.values()];
          system.apps.clear(); // stopped on purpose: not a crash
          await Promise.all(procs.map((p) => p.stop()));
          throw failed.reason;
        }
      }
      log(`system up in ${Math.round((Date.now() - started) / 1000)} s: ${system.instances.join(', ')}${privateCluster ? ` on ${privateCluster.nodes.length} RabbitMQ nodes` : ''}`);
      return system;
    } catch (error) {
      await Promise.all([privateCluster ? privateCluster.dispose() : broker.dispose(), postgres.dispose(), splunk.close()]);
      throw error;
    }
  }

  /** the superuser's URL of the system's database (the harness's own reads) */
  get databaseUrl(): string {
    return this.database.url;
  }

  /** An api process to call, taking turns between the replicas as a load balancer would (running ones only). */
  apiPort(): number | undefined {
    const apis = this.instances.filter((i) => appOf(i) === 'api').flatMap((i) => {
      const proc = this.apps.get(i);
      return proc && proc.child.exitCode === null && proc.child.signalCode === null ? [proc.port] : [];
    });
    return apis.length === 0 ? undefined : apis[this.nextApi++ % apis.length];
  }

  env(app: SystemApp): Record<string, string> {
    return { ...this.baseEnv(app), ...this.options.env?.[app] };
  }

  private baseEnv(app: SystemApp): Record<string, string> {
    const common = {
      ...this.namespace.env(),
      ...this.database.env(),
      LOG_LEVEL: 'info',
      WEBHOOK_SECRET_KEY: this.webhookSecretKey,
    };
    switch (app) {
      case 'api':
        return {
          ...common,
          RABBITMQ_MANAGEMENT_URL: this.namespace.settings.managementUrl,
          TOKEN_SIGNING_KEY: this.tokenSigningKey,
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

  async startApp(app: Instance): Promise<ServiceProcess> {
    const proc = await startBuiltApp(appOf(app), this.env(appOf(app)), APP_START_TIMEOUT_MS);
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
  async kill9AndRestart(app: Instance): Promise<void> {
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
  async restartCrashed(): Promise<Instance[]> {
    const dead = this.instances.filter((app) => {
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
      this.instances.filter((app) => !this.away.has(app)).map(async (app) => {
        const proc = this.apps.get(app);
        if (!proc) return app;
        const ok = await fetch(`http://127.0.0.1:${proc.port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
          (r) => r.status === 200,
          () => false,
        );
        return ok ? undefined : app;
      }),
    );
    return answers.filter((a): a is Instance => a !== undefined);
  }

  /** Each app process's broker node as its /health/ready names it (`host:port`), or undefined while not ready. */
  async brokerNodes(): Promise<Record<string, string | undefined>> {
    const nodes = await Promise.all(
      this.instances.map(async (app) => {
        const proc = this.apps.get(app);
        const body = proc
          ? await fetch(`http://127.0.0.1:${proc.port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
              async (r) => (r.status === 200 ? ((await r.json()) as { broker?: { node?: string } }) : undefined),
              () => undefined,
            )
          : undefined;
        return [app, body?.broker?.node] as const;
      }),
    );
    return Object.fromEntries(nodes);
  }

  /** The apps with no broker connection listed by the management API (its list lags the broker by a few seconds). */
  async appsWithoutConnection(): Promise<SystemApp[]> {
    const connections = await this.namespace.management().get<Array<{ user: string }>>('/api/connections');
    const users = new Set(connections.map((c) => c.user));
    return this.appNames.filter((app) => !users.has(roleOf(app, { namespace: this.namespace.namespace }).user));
  }

  /** The apps' broker connections (not the suite's own load connections), closed through the management API. */
  async closeAppConnections(reason: string): Promise<number> {
    const appUsers = new Set(SYSTEM_APPS.map((app) => roleOf(app, { namespace: this.namespace.namespace }).user));
    const management = this.namespace.management();
    const connections = await management.get<Array<{ name: string; user: string }>>('/api/connections');
    const ours = connections.filter((c) => appUsers.has(c.user));
    await Promise.all(
      ours.map((c) =>
        fetch(`${management.url}/api/connections/${encodeURIComponent(c.name)}`, {
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
    await Promise.all([this.cluster ? this.cluster.dispose() : this.broker.dispose(), this.postgres.dispose(), this.splunk.close()]);
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
