import { ChildProcess, execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdirSync, mkdtempSync, openSync, closeSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BrokerSettings } from './broker';
import { freePort } from './process';

/**
 * A RabbitMQ node of its own on this machine, for tests that stop, restart or kill the broker: the shared broker
 * (rabbit@localhost, 5672/15672) serves other engineers and CI steps and must never be stopped by a test.
 *
 * The node has its own name (`faults-<random>@localhost`), AMQP, distribution and management ports, data and log
 * directories, config, env and enabled-plugins files under a temp dir, and the machine's Erlang cookie (it runs as
 * the `rabbitmq` OS user, whose home holds it), so `rabbitmqctl -n <node>` and clustering work as RabbitMQ's guide
 * for several nodes on one machine describes. Everything here acts on that node only, by its name and its pid;
 * `dispose()` removes only what `startPrivateBroker` created.
 */
export interface PrivateBroker {
  readonly nodename: string;
  readonly amqpPort: number;
  readonly managementPort: number;
  readonly distPort: number;
  /** host, ports and the node's own `guest` administrator, for createBrokerNamespace and provisioning */
  readonly settings: BrokerSettings;
  readonly dir: string;
  /** what `attachPrivateBroker` needs to control the node from another process (`npm run cluster -- down`) */
  readonly state: PrivateBrokerState;
  /** `rabbitmqctl -n <node> <args>`; resolves with its stdout, rejects with its stderr */
  ctl(...args: string[]): Promise<string>;
  /** `rabbitmqctl stop_app`: the node stays up, RabbitMQ (listeners, queues) stops */
  stopApp(): Promise<void>;
  startApp(): Promise<void>;
  /** SIGKILL to the node's Erlang VM: no shutdown, as a crash or OOM kill would */
  kill9(): Promise<void>;
  /** `rabbitmqctl stop`: the whole node, gracefully */
  stop(): Promise<void>;
  /**
   * SIGTERM to the node's VM, which RabbitMQ takes as an orderly shutdown (as Kubernetes stops a pod): no CLI VM
   * to start, which can take minutes on a loaded machine. Resolves once the VM is gone.
   */
  terminate(timeoutMs?: number): Promise<void>;
  /** starts the node again on the same data (after stop() or kill9()) and waits until it serves AMQP and HTTP */
  start(): Promise<void>;
  /** whether the node's VM is running */
  running(): boolean;
  /** stops the node if it runs and deletes its directory; safe to call twice */
  dispose(): Promise<void>;
}

export interface PrivateBrokerOptions {
  /** default `faults-<random>` */
  name?: string;
  /** default `rabbitmq_management`; a cluster's other nodes run only `rabbitmq_management_agent` */
  plugins?: string[];
  startTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface PrivateBrokerState {
  nodename: string;
  amqpPort: number;
  managementPort: number;
  distPort: number;
  dir: string;
  plugins: string[];
}

const RABBITMQ_BIN = '/usr/lib/rabbitmq/bin';
/** the OS user the packaged broker runs as: its home holds the machine's Erlang cookie */
const RABBITMQ_USER = 'rabbitmq';
const RABBITMQ_HOME = '/var/lib/rabbitmq';

function run(command: string, args: string[], env: Record<string, string>, timeoutMs = 60_000): Promise<string> {
  const what = [command, ...args].filter((a) => !a.includes('=')).join(' ');
  return new Promise((resolve, reject) => {
    execFile(command, args, { env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', ...env }, timeout: timeoutMs }, (error, stdout, stderr) => {
      if (!error) return resolve(stdout);
      const why = error.killed ? `no answer within ${timeoutMs / 1000} s` : (stderr || stdout).trim() || `exit ${error.code}`;
      reject(new Error(`${what} failed: ${why}`));
    });
  });
}

const asRabbitmq = (env: Record<string, string>, program: string, args: string[]) => [
  '-u',
  RABBITMQ_USER,
  '--',
  'env',
  ...Object.entries(env).map(([k, v]) => `${k}=${v}`),
  join(RABBITMQ_BIN, program),
  ...args,
];

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export async function startPrivateBroker(options: PrivateBrokerOptions = {}): Promise<PrivateBroker> {
  const name = options.name ?? `faults-${randomBytes(4).toString('hex')}`;
  const [amqpPort, managementPort, distPort] = [await freePort(), await freePort(), await freePort()];
  const dir = mkdtempSync(join(tmpdir(), `${name}-`));
  const plugins = options.plugins ?? ['rabbitmq_management'];
  for (const sub of ['mnesia', 'log']) mkdirSync(join(dir, sub));
  writeFileSync(
    join(dir, 'rabbitmq.conf'),
    [
      // read instead of /etc/rabbitmq's, which binds the shared broker's 127.0.0.1:5672
      `listeners.tcp.default = ${amqpPort}`,
      `management.tcp.ip = 127.0.0.1`,
      `management.tcp.port = ${managementPort}`,
      'loopback_users = none',
      '',
    ].join('\n'),
  );
  writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
  writeFileSync(join(dir, 'enabled_plugins'), `[${plugins.join(',')}].\n`);
  const uid = Number((await run('id', ['-u', RABBITMQ_USER], {})).trim());
  const gid = Number((await run('id', ['-g', RABBITMQ_USER], {})).trim());
  for (const path of [dir, join(dir, 'mnesia'), join(dir, 'log'), join(dir, 'rabbitmq.conf'), join(dir, 'rabbitmq-env.conf'), join(dir, 'enabled_plugins')]) {
    chownSync(path, uid, gid);
  }
  const broker = attachPrivateBroker({ nodename: `${name}@localhost`, amqpPort, managementPort, distPort, dir, plugins }, options);
  try {
    await broker.start();
  } catch (error) {
    await broker.dispose();
    throw error;
  }
  return broker;
}

/** Controls a node started by `startPrivateBroker` (in this process or another), from its state. */
export function attachPrivateBroker(state: PrivateBrokerState, options: Pick<PrivateBrokerOptions, 'startTimeoutMs' | 'log'> = {}): PrivateBroker {
  const log = options.log ?? (() => undefined);
  const { nodename, amqpPort, managementPort, distPort, dir, plugins } = state;
  const withManagement = plugins.includes('rabbitmq_management');
  // the CLI needs only the node's name and the cookie (HOME); the server also its own ports and files
  const cliEnv = { HOME: RABBITMQ_HOME, ERL_EPMD_ADDRESS: '127.0.0.1', RABBITMQ_CONF_ENV_FILE: join(dir, 'rabbitmq-env.conf') };
  const serverEnv = {
    ...cliEnv,
    RABBITMQ_NODENAME: nodename,
    RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
    RABBITMQ_NODE_PORT: String(amqpPort),
    RABBITMQ_DIST_PORT: String(distPort),
    RABBITMQ_CONFIG_FILE: join(dir, 'rabbitmq.conf'),
    RABBITMQ_ADVANCED_CONFIG_FILE: join(dir, 'advanced.config'),
    RABBITMQ_ENABLED_PLUGINS_FILE: join(dir, 'enabled_plugins'),
    RABBITMQ_MNESIA_BASE: join(dir, 'mnesia'),
    RABBITMQ_LOG_BASE: join(dir, 'log'),
    RABBITMQ_PID_FILE: join(dir, 'node.pid'),
    ERL_FLAGS: '-kernel inet_dist_use_interface {127,0,0,1}',
  };
  const settings: BrokerSettings = {
    host: '127.0.0.1',
    port: amqpPort,
    managementUrl: `http://127.0.0.1:${managementPort}`,
    adminUser: 'guest',
    adminPassword: 'guest',
  };
  const startTimeoutMs = options.startTimeoutMs ?? 180_000;
  let disposed = false;

  // a busy shared machine can make stop_app (closing every connection, stopping every queue) take minutes
  const ctl = (...args: string[]) => run('runuser', asRabbitmq(cliEnv, 'rabbitmqctl', ['-n', nodename, ...args]), {}, 300_000);
  /** the node's Erlang VM, from the pid file it writes at start */
  const vmPid = (): number | undefined => {
    try {
      const pid = Number(readFileSync(join(dir, 'node.pid'), 'utf8').trim());
      return pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  };
  const alive = (pid: number | undefined) => {
    if (pid === undefined) return false;
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  };
  let launched: ChildProcess | undefined;
  const launcherRunning = () => launched !== undefined && launched.exitCode === null && launched.signalCode === null;
  const running = () => alive(vmPid()) || launcherRunning();
  const gone = async (timeoutMs: number) => {
    const deadline = Date.now() + timeoutMs;
    while (running()) {
      if (Date.now() > deadline) throw new Error(`${nodename} still running ${timeoutMs} ms after it was stopped`);
      await sleep(100);
    }
  };

  /** until AMQP accepts connections and, with management, the HTTP API answers */
  const awaitServing = async (what: string) => {
    const deadline = Date.now() + startTimeoutMs;
    for (;;) {
      if (!running()) throw new Error(`${nodename} exited while ${what}; see ${join(dir, 'log')}`);
      const ok = await ctl('await_startup', '--timeout', '5').then(
        () => true,
        () => false,
      );
      const serving =
        ok && withManagement
          ? await fetch(`${settings.managementUrl}/api/overview`, {
              headers: { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` },
            }).then(
              (r) => r.ok,
              () => false,
            )
          : ok;
      if (serving) return;
      if (Date.now() > deadline) throw new Error(`${nodename} was not serving within ${startTimeoutMs} ms (${what}); see ${join(dir, 'log')}`);
      await sleep(300);
    }
  };

  const broker: PrivateBroker = {
    nodename,
    amqpPort,
    managementPort,
    distPort,
    settings,
    dir,
    state,
    ctl,
    async stopApp() {
      await ctl('stop_app');
      log(`${nodename}: stop_app`);
    },
    async startApp() {
      await ctl('start_app');
      await awaitServing('start_app');
      log(`${nodename}: start_app`);
    },
    async kill9() {
      const pid = vmPid();
      if (!alive(pid) || pid === undefined) throw new Error(`${nodename} is not running`);
      process.kill(pid, 'SIGKILL');
      await gone(30_000);
      log(`${nodename}: killed (SIGKILL to pid ${pid})`);
    },
    async terminate(timeoutMs = 300_000) {
      const pid = vmPid();
      if (!alive(pid) || pid === undefined) throw new Error(`${nodename} is not running`);
      process.kill(pid, 'SIGTERM');
      await gone(timeoutMs);
      log(`${nodename}: stopped (SIGTERM to pid ${pid})`);
    },
    async stop() {
      if (!running()) return;
      await ctl('stop');
      await gone(60_000);
      log(`${nodename}: stopped`);
    },
    async start() {
      if (running()) throw new Error(`${nodename} is already running`);
      rmSync(join(dir, 'node.pid'), { force: true });
      const out = openSync(join(dir, 'log', 'console.log'), 'a');
      // detached, and not waited for: `npm run cluster -- up` leaves its nodes running when it exits
      launched = spawn('runuser', asRabbitmq(serverEnv, 'rabbitmq-server', []), { stdio: ['ignore', out, out], detached: true });
      launched.unref();
      closeSync(out);
      await awaitServing('starting');
      log(`${nodename}: serving AMQP on ${amqpPort}${withManagement ? `, management on ${managementPort}` : ''}`);
    },
    running,
    async dispose() {
      if (disposed) return;
      disposed = true;
      if (running()) {
        await broker.stop().catch(async () => {
          const pid = vmPid();
          if (alive(pid) && pid !== undefined) process.kill(pid, 'SIGKILL');
          await gone(30_000).catch(() => undefined);
        });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return broker;
}
