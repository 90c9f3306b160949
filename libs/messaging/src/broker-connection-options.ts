import { readFileSync } from 'node:fs';
import type { CommonEnv } from '@purple/platform';
import type { AppRole } from '@purple/topology';

type BrokerEnv = Pick<CommonEnv, 'RABBITMQ_HOST' | 'RABBITMQ_TLS' | 'RABBITMQ_CA_FILE' | 'brokerPort'> & Partial<Pick<CommonEnv, 'brokerNodes'>>;

/** Where and as whom an app connects: `amqps` with RABBITMQ_TLS, the app's own broker user and vhost. */
export function brokerUri(env: BrokerEnv, role: Pick<AppRole, 'user' | 'vhost'>, password: string) {
  return {
    protocol: env.RABBITMQ_TLS ? 'amqps' : 'amqp',
    hostname: env.RABBITMQ_HOST,
    port: env.brokerPort,
    username: role.user,
    password,
    // golevelup appends this to `amqp://host:port` as the URL's path: the vhost's own `/` must be escaped
    vhost: `/${encodeURIComponent(role.vhost)}`,
    heartbeat: 15,
  };
}

/**
 * One connection target per broker node (RABBITMQ_URLS, else RABBITMQ_HOST/PORT). amqp-connection-manager tries them
 * in turn: when the node it is on goes away, the app reconnects to the next one.
 */
export function brokerUris(env: BrokerEnv, role: Pick<AppRole, 'user' | 'vhost'>, password: string) {
  const nodes = env.brokerNodes ?? [{ host: env.RABBITMQ_HOST, port: env.brokerPort }];
  return nodes.map((node) => ({ ...brokerUri(env, role, password), hostname: node.host, port: node.port }));
}

/**
 * amqplib's socket options: passed to `tls.connect` for amqps, which verifies the certificate and the host name
 * (amqplib sets `servername` to RABBITMQ_HOST). RABBITMQ_CA_FILE replaces the system's CAs, for a private CA.
 */
export function brokerSocketOptions(env: BrokerEnv, app: string): { clientProperties: { connection_name: string }; ca?: Buffer[] } {
  const options = { clientProperties: { connection_name: app } };
  if (!env.RABBITMQ_TLS || env.RABBITMQ_CA_FILE === undefined) return options;
  return { ...options, ca: [readFileSync(env.RABBITMQ_CA_FILE)] };
}
