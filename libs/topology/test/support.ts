import { randomBytes } from 'node:crypto';
import { ProvisionReport, Topology, buildTopology, deprovision, namer, provision } from '../src';

/**
 * A namespaced topology on the shared test broker for this library's own integration tests. (Apps and tools use
 * `createBrokerNamespace` from @purple/testing; this library cannot, as @purple/testing depends on it.)
 */
export const BROKER = {
  host: process.env.RABBITMQ_HOST || '127.0.0.1',
  port: Number(process.env.RABBITMQ_PORT || 5672),
  managementUrl: process.env.RABBITMQ_MANAGEMENT_URL || `http://${process.env.RABBITMQ_HOST || '127.0.0.1'}:15672`,
  adminUser: process.env.RABBITMQ_ADMIN_USER || 'guest',
  adminPassword: process.env.RABBITMQ_ADMIN_PASSWORD || 'guest',
};

export interface TestNamespace {
  namespace: string;
  topology: Topology;
  passwords: Record<string, string>;
  report: ProvisionReport;
  user(name: string): string;
  vhost(name: string): string;
  amqpUrl(user: string, vhost: string): string;
  credentials(user: string): { username: string; password: string };
  dispose(): Promise<void>;
}

export async function provisionTestNamespace(): Promise<TestNamespace> {
  const namespace = `t${randomBytes(4).toString('hex')}`;
  const topology = buildTopology({ namespace });
  const n = namer({ namespace });
  const passwords = Object.fromEntries(topology.users.map((u) => [u.name, randomBytes(12).toString('hex')]));
  const admin = { managementUrl: BROKER.managementUrl, adminUser: BROKER.adminUser, adminPassword: BROKER.adminPassword };
  const dispose = () => deprovision({ ...admin, namespace }).then(() => undefined);
  let report: ProvisionReport;
  try {
    report = await provision({ ...admin, passwords, topology });
  } catch (err) {
    await dispose().catch(() => undefined);
    throw err;
  }
  // names that already carry the namespace (from roleOf(app, { namespace })) are kept
  const user = (name: string) => (name.startsWith(`${namespace}_`) ? name : n.user(name));
  const vhost = (name: string) => (name.endsWith(`.${namespace}`) ? name : n.vhost(name));
  return {
    namespace,
    topology,
    passwords,
    report,
    user,
    vhost,
    amqpUrl: (u, v) =>
      `amqp://${encodeURIComponent(user(u))}:${passwords[user(u)]}@${BROKER.host}:${BROKER.port}/${encodeURIComponent(vhost(v))}`,
    credentials: (u) => ({ username: user(u), password: passwords[user(u)] }),
    dispose,
  };
}

/** A local TCP port with nothing listening (fetch refuses well-known "bad ports" such as 1 before connecting). */
export async function closedPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
