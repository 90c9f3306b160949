import { randomBytes } from 'node:crypto';
import {
  ManagementClient,
  ProvisionReport,
  Topology,
  buildTopology,
  deprovision,
  namer,
  provision,
} from '@purple/topology';

/**
 * Integration tests share one broker with other runs (and with other test files running at the same time), and
 * users are global to a broker: each test gets its own namespace — vhosts `/caldera_checking.<ns>`,
 * `/soar.<ns>`, users `<ns>_caldera_admin`, … — provisioned exactly as production is, with random passwords, and
 * removed by `dispose()`.
 *
 * ```ts
 * let broker: BrokerNamespace;
 * beforeAll(async () => (broker = await createBrokerNamespace()));
 * afterAll(() => broker?.dispose());
 * const conn = await amqp.connect(broker.amqpUrl('checking_worker'));
 * ```
 */

export interface BrokerSettings {
  host: string;
  port: number;
  managementUrl: string;
  adminUser: string;
  adminPassword: string;
  /** a cluster's every node's AMQP port on `host`, first node first: apps get them as RABBITMQ_URLS */
  amqpPorts?: number[];
}

/** Where the test broker is: RABBITMQ_HOST/PORT, RABBITMQ_MANAGEMENT_URL, RABBITMQ_ADMIN_USER/PASSWORD (or local defaults). */
export function brokerSettings(env: NodeJS.ProcessEnv = process.env): BrokerSettings {
  const host = env.RABBITMQ_HOST || '127.0.0.1';
  return {
    host,
    port: Number(env.RABBITMQ_PORT || 5672),
    managementUrl: env.RABBITMQ_MANAGEMENT_URL || `http://${host}:15672`,
    adminUser: env.RABBITMQ_ADMIN_USER || 'guest',
    adminPassword: env.RABBITMQ_ADMIN_PASSWORD || 'guest',
  };
}

export interface BrokerNamespace {
  /** e.g. `t3f9a01c2`; matches BROKER_NAMESPACE's pattern */
  namespace: string;
  /** the namespaced topology that was provisioned */
  topology: Topology;
  /** each user's random password, keyed by namespaced user name */
  passwords: Record<string, string>;
  settings: BrokerSettings;
  /** what provisioning did (empty when created with `provision: false`) */
  report: ProvisionReport;
  /** `checking_worker` → `<ns>_checking_worker` (a name that already carries the namespace is kept) */
  user(name: string): string;
  /** `/caldera_checking` → `/caldera_checking.<ns>` (likewise kept if already namespaced) */
  vhost(name: string): string;
  password(user: string): string;
  /**
   * `amqp://<ns>_user:password@host:port/<vhost>`; `user` and `vhost` may be given unprefixed. Without a vhost,
   * the first vhost the user has permissions in.
   */
  amqpUrl(user: string, vhost?: string): string;
  /** amqpUrl for every node of a cluster (one entry for a single broker) */
  amqpUrls(user: string, vhost?: string): string[];
  /** a management API client as this user (default: the bootstrap admin) */
  management(user?: string): ManagementClient;
  /**
   * What an app started in this namespace needs in its environment: BROKER_NAMESPACE, RABBITMQ_HOST/PORT and
   * every `<USER>_PASSWORD`.
   */
  env(): Record<string, string>;
  /** removes the namespace's vhosts and users; safe to call twice */
  dispose(): Promise<void>;
}

export interface BrokerNamespaceOptions {
  /** default true; false gives the names and passwords without touching the broker */
  provision?: boolean;
  /** default: a fresh `t` + 8 hex digits */
  namespace?: string;
  log?: (line: string) => void;
  settings?: BrokerSettings;
}

export async function createBrokerNamespace(options: BrokerNamespaceOptions = {}): Promise<BrokerNamespace> {
  const settings = options.settings ?? brokerSettings();
  const namespace = options.namespace ?? `t${randomBytes(4).toString('hex')}`;
  const topology = buildTopology({ namespace });
  const n = namer({ namespace });
  const passwords = Object.fromEntries(topology.users.map((u) => [u.name, randomBytes(12).toString('hex')]));

  const user = (name: string) => (name.startsWith(`${namespace}_`) ? name : n.user(name));
  const vhost = (name: string) => (name.endsWith(`.${namespace}`) ? name : n.vhost(name));
  const password = (name: string) => {
    const p = passwords[user(name)];
    if (p === undefined) throw new Error(`no user ${name} in namespace ${namespace}`);
    return p;
  };
  const admin = { managementUrl: settings.managementUrl, adminUser: settings.adminUser, adminPassword: settings.adminPassword };

  let disposed = false;
  const dispose = async () => {
    if (disposed) return;
    disposed = true;
    await deprovision({ ...admin, namespace });
  };

  const amqpUrlAt = (name: string, vh: string | undefined, port: number) => {
    const u = user(name);
    const target = vh ? vhost(vh) : topology.permissions.find((p) => p.user === u)?.vhost;
    if (!target) throw new Error(`user ${u} has no vhost in namespace ${namespace}`);
    return `amqp://${encodeURIComponent(u)}:${encodeURIComponent(password(u))}@${settings.host}:${port}/${encodeURIComponent(target)}`;
  };

  let report: ProvisionReport = { changes: [], warnings: [] };
  if (options.provision !== false) {
    try {
      report = await provision({ ...admin, passwords, topology, namespace, log: options.log });
    } catch (err) {
      await dispose().catch(() => undefined);
      throw err;
    }
  }

  return {
    namespace,
    topology,
    passwords,
    settings,
    report,
    user,
    vhost,
    password,
    amqpUrl(name, vh) {
      return amqpUrlAt(name, vh, settings.port);
    },
    amqpUrls(name, vh) {
      return (settings.amqpPorts ?? [settings.port]).map((port) => amqpUrlAt(name, vh, port));
    },
    management(name) {
      return name === undefined
        ? new ManagementClient({ url: settings.managementUrl, username: settings.adminUser, password: settings.adminPassword })
        : new ManagementClient({ url: settings.managementUrl, username: user(name), password: password(name) });
    },
    env() {
      return {
        BROKER_NAMESPACE: namespace,
        RABBITMQ_HOST: settings.host,
        RABBITMQ_PORT: String(settings.port),
        ...(settings.amqpPorts && settings.amqpPorts.length > 1 ? { RABBITMQ_URLS: settings.amqpPorts.map((port) => `amqp://${settings.host}:${port}`).join(',') } : {}),
        ...Object.fromEntries(topology.users.map((u) => [u.passwordEnv, passwords[u.name]])),
      };
    },
    dispose,
  };
}
