import { PrivateBroker, PrivateCluster, PrivatePostgres, brokerSettings, eventually, startPrivateBroker, startPrivateCluster, startPrivatePostgres } from '@purple/testing';
import * as amqp from 'amqplib';
import { existsSync } from 'node:fs';
import { Client } from 'pg';

/**
 * The private broker, database and cluster the fault suites break: each does what it says to itself, keeps its
 * data across a stop or a kill, leaves nothing behind, and never touches the shared broker.
 */
const auth = { authorization: `Basic ${Buffer.from('guest:guest').toString('base64')}` };
const shared = brokerSettings();
const sharedNode = async () =>
  ((await (await fetch(`${shared.managementUrl}/api/overview`, { headers: { authorization: `Basic ${Buffer.from(`${shared.adminUser}:${shared.adminPassword}`).toString('base64')}` } })).json()) as { node: string }).node;
const connects = (url: string) =>
  amqp.connect(url).then(
    async (c) => {
      c.on('error', () => undefined);
      await c.close();
      return true;
    },
    () => false,
  );
const processAlive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('private broker', () => {
  let broker: PrivateBroker | undefined;
  afterAll(() => broker?.dispose());

  it('is a node of its own that stops, restarts, survives kill -9 with its durable data, and leaves nothing behind', async () => {
    const sharedBefore = await sharedNode();
    broker = await startPrivateBroker();
    const url = `amqp://guest:guest@127.0.0.1:${broker.amqpPort}/%2F`;
    expect(broker.nodename).toMatch(/^faults-[0-9a-f]{8}@localhost$/);
    expect(broker.amqpPort).not.toBe(shared.port);
    expect(((await (await fetch(`${broker.settings.managementUrl}/api/overview`, { headers: auth })).json()) as { node: string }).node).toBe(broker.nodename);

    const conn = await amqp.connect(url);
    const ch = await conn.createChannel();
    await ch.assertQueue('survives', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    await conn.close();

    await broker.stopApp();
    expect(await connects(url)).toBe(false);
    expect(broker.running()).toBe(true);
    await broker.startApp();
    expect(await connects(url)).toBe(true);

    const pid = Number((await broker.ctl('eval', 'list_to_integer(os:getpid()).')).trim());
    await broker.kill9();
    expect(processAlive(pid)).toBe(false);
    expect(broker.running()).toBe(false);
    await broker.start();
    const queues = (await (await fetch(`${broker.settings.managementUrl}/api/queues/%2F`, { headers: auth })).json()) as Array<{ name: string }>;
    expect(queues.map((q) => q.name)).toContain('survives');

    const dir = broker.dir;
    await broker.dispose();
    expect(broker.running()).toBe(false);
    expect(existsSync(dir)).toBe(false);
    expect(await sharedNode()).toBe(sharedBefore);
  }, 400_000);
});

describe('private postgres', () => {
  let pg: PrivatePostgres | undefined;
  afterAll(() => pg?.dispose());

  it('stops and starts with its data, on its own port, and leaves nothing behind', async () => {
    pg = await startPrivatePostgres();
    expect(pg.port).not.toBe(5432);
    const query = async (text: string) => {
      const client = new Client({ connectionString: `${pg?.serverUrl}/postgres` });
      client.on('error', () => undefined);
      await client.connect();
      try {
        return (await client.query(text)).rows;
      } finally {
        await client.end();
      }
    };
    await query('CREATE TABLE kept (n int); INSERT INTO kept VALUES (42)');
    await pg.stop();
    await expect(query('SELECT 1')).rejects.toThrow(/ECONNREFUSED/);
    await pg.start();
    expect(await query('SELECT n FROM kept')).toEqual([{ n: 42 }]);
    const dir = pg.dir;
    await pg.dispose();
    expect(existsSync(dir)).toBe(false);
    expect(await pg.running()).toBe(false);
  }, 120_000);
});

describe('private cluster', () => {
  let cluster: PrivateCluster | undefined;
  afterAll(() => cluster?.dispose());

  it('clusters three nodes, replicates a quorum queue on all three, and keeps it through the loss of one node', async () => {
    cluster = await startPrivateCluster({ size: 3 });
    expect((await cluster.runningNodes()).sort()).toEqual(cluster.nodes.map((n) => n.nodename).sort());

    const conn = await amqp.connect(`amqp://guest:guest@127.0.0.1:${cluster.nodes[0].amqpPort}/%2F`);
    conn.on('error', () => undefined);
    const ch = await conn.createConfirmChannel();
    await ch.assertQueue('replicated', { durable: true, arguments: { 'x-queue-type': 'quorum' } });
    ch.sendToQueue('replicated', Buffer.from('kept'), { persistent: true });
    await ch.waitForConfirms();
    await conn.close();
    const members = async () =>
      ((await (await fetch(`${cluster?.nodes[0].settings.managementUrl}/api/queues/%2F/replicated`, { headers: auth })).json()) as { members?: string[] }).members ?? [];
    expect((await members()).length).toBe(3);

    await cluster.nodes[2].kill9();
    const other = await amqp.connect(`amqp://guest:guest@127.0.0.1:${cluster.nodes[1].amqpPort}/%2F`);
    other.on('error', () => undefined);
    const reading = await other.createChannel();
    const message = await eventually(async () => (await reading.get('replicated', { noAck: true })) || null, 30_000, 200);
    expect(message.content.toString()).toBe('kept');
    await other.close();

    const dirs = cluster.nodes.map((n) => n.dir);
    await cluster.dispose();
    expect(dirs.filter(existsSync)).toEqual([]);
  }, 600_000);
});
