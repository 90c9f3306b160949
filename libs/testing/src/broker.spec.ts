import * as amqp from 'amqplib';
import { BrokerNamespace, createBrokerNamespace } from './broker';

describe('createBrokerNamespace (real broker)', () => {
  let ns: BrokerNamespace;
  beforeAll(async () => {
    ns = await createBrokerNamespace();
  }, 60_000);
  afterAll(() => ns?.dispose(), 60_000);

  it('provisions a namespace of its own', () => {
    expect(ns.namespace).toMatch(/^t[0-9a-f]{8}$/);
    expect(ns.report.changes.length).toBeGreaterThan(0);
    expect(ns.user('checking_worker')).toBe(`${ns.namespace}_checking_worker`);
    expect(ns.user(`${ns.namespace}_checking_worker`)).toBe(`${ns.namespace}_checking_worker`);
    expect(ns.vhost('/caldera_checking')).toBe(`/caldera_checking.${ns.namespace}`);
  });

  it('gives AMQP URLs that connect as each role, to its vhost by default', async () => {
    const conn = await amqp.connect(ns.amqpUrl('checking_worker'));
    try {
      const ch = await conn.createChannel();
      expect((await ch.checkQueue('caldera.checking.api.tasks')).queue).toBe('caldera.checking.api.tasks');
      await ch.close();
    } finally {
      await conn.close();
    }
    expect(ns.amqpUrl('soar_api')).toContain(encodeURIComponent(`/soar.${ns.namespace}`));
  });

  it('gives the environment an app needs in the namespace', () => {
    const env = ns.env();
    expect(env.BROKER_NAMESPACE).toBe(ns.namespace);
    expect(env.CHECKING_WORKER_PASSWORD).toBe(ns.password('checking_worker'));
    expect(Object.keys(env).filter((k) => k.endsWith('_PASSWORD'))).toHaveLength(ns.topology.users.length);
  });

  it('removes its vhosts and users on dispose', async () => {
    const other = await createBrokerNamespace();
    const admin = other.management();
    expect(await admin.getUser(other.user('monitor_user'))).toBeDefined();
    await other.dispose();
    expect(await admin.getUser(other.user('monitor_user'))).toBeUndefined();
    for (const v of other.topology.vhosts) expect(await admin.getVhost(v)).toBeUndefined();
    await other.dispose();
  }, 60_000);
});
