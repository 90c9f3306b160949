import { randomBytes } from 'node:crypto';
import * as amqp from 'amqplib';
import { ManagementApiError, ManagementClient, buildTopology, deprovision, provision, toDefinitions } from '../src';
import { BROKER, closedPort } from './support';

const admin = () => new ManagementClient({ url: BROKER.managementUrl, username: BROKER.adminUser, password: BROKER.adminPassword });

describe('ManagementClient', () => {
  it('says in one line when the API cannot be reached', async () => {
    const port = await closedPort();
    const client = new ManagementClient({ url: `http://127.0.0.1:${port}`, username: 'guest', password: 'pa55-not-shown' });
    const err = (await client.overview().catch((e: unknown) => e)) as ManagementApiError;
    expect(err).toBeInstanceOf(ManagementApiError);
    expect(err.status).toBeUndefined();
    expect(err.message).toBe(`cannot reach the management API at http://127.0.0.1:${port}: ECONNREFUSED`);
  });

  it('gives the status and the API reason in one line, without the password, for refused credentials', async () => {
    const client = new ManagementClient({ url: BROKER.managementUrl, username: BROKER.adminUser, password: 'wrong-pa55word' });
    const err = (await client.overview().catch((e: unknown) => e)) as ManagementApiError;
    expect(err).toBeInstanceOf(ManagementApiError);
    expect(err.status).toBe(401);
    expect(err.reason).toBe('Login failed');
    expect(err.message).toMatch(/^management API GET \/api\/overview failed: 401 Unauthorized: Login failed/);
    expect(err.message).not.toContain('wrong-pa55word');
    expect(err.message).not.toMatch(/\n/);
  });

  it('goes on to the next management URL when one cannot be reached, and keeps using the one that answered (issue 14)', async () => {
    const [down1, down2] = [await closedPort(), await closedPort()];
    const client = new ManagementClient({
      url: `http://127.0.0.1:${down1}, ${BROKER.managementUrl}`,
      username: BROKER.adminUser,
      password: BROKER.adminPassword,
    });
    expect(client.urls).toEqual([`http://127.0.0.1:${down1}`, BROKER.managementUrl.replace(/\/+$/, '')]);
    expect((await client.overview()).rabbitmq_version).toMatch(/^3\./);
    expect(client.url).toBe(BROKER.managementUrl.replace(/\/+$/, ''));
    // an HTTP error is the cluster's answer: not retried on another node
    const refused = new ManagementClient({ url: `${BROKER.managementUrl},http://127.0.0.1:${down1}`, username: BROKER.adminUser, password: 'wrong-pa55word' });
    expect(((await refused.overview().catch((e: unknown) => e)) as ManagementApiError).status).toBe(401);
    // none reachable: one error naming each
    const none = new ManagementClient({ url: `http://127.0.0.1:${down1},http://127.0.0.1:${down2}`, username: 'guest', password: 'x' });
    const err = (await none.overview().catch((e: unknown) => e)) as ManagementApiError;
    expect(err.status).toBeUndefined();
    expect(err.message).toBe(
      `cannot reach the management API at http://127.0.0.1:${down1}: ECONNREFUSED; cannot reach the management API at http://127.0.0.1:${down2}: ECONNREFUSED`,
    );
  });

  it('drops credentials given in the URL from what it prints', () => {
    const client = new ManagementClient({ url: 'http://u:secret@example.invalid:15672/', username: 'u', password: 'secret' });
    expect(client.url).toBe('http://example.invalid:15672');
  });

  it('answers a missing object with undefined, and encodes vhost names', async () => {
    const c = admin();
    expect(await c.getVhost(`/no-such-vhost-${randomBytes(3).toString('hex')}`)).toBeUndefined();
    expect(await c.getQueue('/', `no-such-queue-${randomBytes(3).toString('hex')}`)).toBeUndefined();
    expect((await c.getVhost('/'))?.name).toBe('/');
    const err = (await c.putPolicy({ name: 'x', vhost: '/no-such-vhost', pattern: '(', 'apply-to': 'queues', priority: 0, definition: {} }).catch(
      (e: unknown) => e,
    )) as ManagementApiError;
    expect(err).toBeInstanceOf(ManagementApiError);
    expect(err.message).toMatch(/^management API PUT \/api\/policies\/%2Fno-such-vhost\/x failed: \d{3} /);
  });
});

describe('definitions import (RabbitMQ 3.10 format check)', () => {
  const namespace = `t${randomBytes(4).toString('hex')}`;
  const topology = buildTopology({ namespace });
  const passwords = Object.fromEntries(topology.users.map((u) => [u.name, randomBytes(12).toString('hex')]));
  const options = { managementUrl: BROKER.managementUrl, adminUser: BROKER.adminUser, adminPassword: BROKER.adminPassword };

  afterAll(() => deprovision({ ...options, namespace }), 60_000);

  it('imports the exported definitions, and provisioning then finds nothing to change', async () => {
    const c = admin();
    await c.postDefinitions(toDefinitions(topology, passwords));

    // users, their tags (a list) and limits made it in
    const publisher = await c.getUser(`${namespace}_caldera_publisher`);
    expect(publisher?.tags).toEqual([]);
    expect(await c.getUserLimits(`${namespace}_caldera_publisher`)).toEqual({ 'max-connections': 100 });
    expect((await c.getUser(`${namespace}_monitor_user`))?.tags).toEqual(['monitoring']);
    expect(await c.getUserLimits(`${namespace}_monitor_user`)).toEqual({});

    // the hashes are right: a management user and an AMQP user can log in with their passwords
    const monitor = new ManagementClient({ url: BROKER.managementUrl, username: `${namespace}_monitor_user`, password: passwords[`${namespace}_monitor_user`] });
    expect((await monitor.whoami()).name).toBe(`${namespace}_monitor_user`);
    const conn = await amqp.connect(
      `amqp://${namespace}_checking_worker:${passwords[`${namespace}_checking_worker`]}@${BROKER.host}:${BROKER.port}/${encodeURIComponent(`/caldera_checking.${namespace}`)}`,
    );
    await conn.close();

    const log: string[] = [];
    const report = await provision({ ...options, passwords, topology, log: (l) => log.push(l) });
    expect(report.changes).toEqual([]);
    expect(log).toContain('nothing to change');
    // an import by the bootstrap admin, like PUT /api/vhosts, grants it full permissions on the new vhosts
    expect(report.warnings.some((w) => w.includes(`user ${BROKER.adminUser} has permissions in /caldera_checking.${namespace}`))).toBe(true);
  }, 60_000);
});
