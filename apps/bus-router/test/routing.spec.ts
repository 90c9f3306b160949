import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { INestApplication } from '@nestjs/common';
import { REJECTION_REASON_HEADER } from '@purple/messaging';
import { eventually } from '@purple/testing';
import { SOAR_EXCHANGES, clientQueues } from '@purple/topology';
import { ClientRouter } from '../src/router/client-router';
import { BusTestBed, ClientFixture, envelopeOf } from './support';

const noc: ClientFixture = { clientId: 'noc-c2', subscription: 'soar.noc.#' };
const glider: ClientFixture = { clientId: 'slocum-glider', subscription: 'soar.noc.slocum.*' };
const other: ClientFixture = { clientId: 'other-ops', subscription: 'soar.other.#' };
const q = clientQueues;

describe('bus-router: outbox and broadcast routing (real broker and database)', () => {
  let bed: BusTestBed;
  let router: INestApplication;

  beforeAll(async () => {
    bed = await BusTestBed.create();
    for (const client of [noc, glider, other]) await bed.createClient(client);
    router = await bed.startRouter();
    await eventually(async () => (await bed.consumers(q(other.clientId).broadcast)) === 1);
  }, 60_000);

  afterAll(async () => {
    await BusTestBed.closeRouter(router);
    await bed?.dispose();
  }, 60_000);

  it('delivers a sent message to exactly the inboxes whose subscription matches, in an envelope stamped by the router', async () => {
    const before = Date.now();
    const id = await bed.send(noc.clientId, { topic: 'soar.noc.slocum.something', message: { depth: 42 } });

    const [toNoc] = await bed.take(q(noc.clientId).inbox, 1);
    const [toGlider] = await bed.take(q(glider.clientId).inbox, 1);
    for (const delivered of [toNoc, toGlider]) {
      const envelope = envelopeOf(delivered);
      expect(envelope).toEqual({
        message_id: id,
        topic: 'soar.noc.slocum.something',
        sender: 'noc-c2',
        sent_at: expect.any(String),
        message: { depth: 42 },
      });
      expect(Date.parse(envelope.sent_at)).toBeGreaterThanOrEqual(before - 1000);
      expect(delivered.properties.messageId).toBe(id);
      expect(delivered.properties.deliveryMode).toBe(2);
    }
    // every copy is confirmed before the outbox message is acked: by now a wrongly chosen inbox would hold one too
    expect(await bed.depth(q(other.clientId).inbox)).toBe(0);
    expect(await bed.depth(q(noc.clientId).outbox)).toBe(0);
  });

  it('delivers a notify to every inbox, with the topic "broadcast" and the notifier as sender', async () => {
    const id = await bed.notify(other.clientId, 'all hands');
    for (const client of [noc, glider, other]) {
      const [delivered] = await bed.take(q(client.clientId).inbox, 1);
      expect(envelopeOf(delivered)).toMatchObject({ message_id: id, topic: 'broadcast', sender: 'other-ops', message: 'all hands' });
    }
  });

  it('stamps the owner of the outbox as the sender, whatever the body claims', async () => {
    await bed.send(other.clientId, { topic: 'soar.noc.report', message: 'trust me', sender: 'noc-c2' });
    const [delivered] = await bed.take(q(noc.clientId).inbox, 1);
    expect(envelopeOf(delivered)).toMatchObject({ sender: 'other-ops', topic: 'soar.noc.report', message: 'trust me' });
    expect(envelopeOf(delivered)).not.toHaveProperty('sender', 'noc-c2');
  });

  it('gives a message without a usable AMQP message id a fresh UUID', async () => {
    await bed.publish(SOAR_EXCHANGES.send, noc.clientId, Buffer.from(JSON.stringify({ topic: 'soar.noc.slocum.x', message: 1 })), 'not-a-uuid');
    const [delivered] = await bed.take(q(glider.clientId).inbox, 1);
    expect(envelopeOf(delivered).message_id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    await bed.take(q(noc.clientId).inbox, 1);
  });

  it('keeps the order of one sender on one topic', async () => {
    const ids: string[] = [];
    for (let i = 0; i < 50; i++) ids.push(await bed.send(noc.clientId, { topic: 'soar.noc.slocum.sequence', message: { i } }));
    const delivered = await bed.take(q(glider.clientId).inbox, 50, 20_000);
    expect(delivered.map((m) => envelopeOf(m).message_id)).toEqual(ids);
    expect(delivered.map((m) => (envelopeOf(m).message as { i: number }).i)).toEqual([...Array(50).keys()]);
    await bed.take(q(noc.clientId).inbox, 50, 20_000);
  });

  it('forwards a backlog with many messages in flight (ROUTER_PREFETCH), each once and in the order it was sent', async () => {
    // the outbox fills before the router knows the client, so the router meets a backlog, not one message at a time
    const backlog: ClientFixture = { clientId: 'backlog-sender', subscription: 'soar.backlog.#' };
    await bed.createQueues(backlog.clientId, backlog.subscription);
    const sends = Array.from({ length: 300 }, (_, i) => bed.send(backlog.clientId, { topic: 'soar.noc.slocum.backlog', message: { i } }));
    const ids = await Promise.all(sends);
    expect(await bed.depth(q(backlog.clientId).outbox)).toBe(300);

    await bed.createClient(backlog, { queuesFirst: false });
    const delivered = await bed.take(q(glider.clientId).inbox, 300, 30_000);
    expect(delivered.map((m) => envelopeOf(m).message_id)).toEqual(ids);
    await bed.take(q(noc.clientId).inbox, 300, 30_000);
    expect(await bed.depth(q(backlog.clientId).outbox)).toBe(0);
    await bed.deleteClient(backlog.clientId);
  }, 60_000);

  it('dead-letters invalid messages to the sender’s dead-letter queue with the reason, and keeps routing', async () => {
    await bed.publish(SOAR_EXCHANGES.send, noc.clientId, Buffer.from('{not json'));
    await bed.send(noc.clientId, { topic: 'soar.*.slocum', message: 1 });
    await bed.send(noc.clientId, { message: 'no topic' });
    await bed.publish(SOAR_EXCHANGES.notify, noc.clientId, Buffer.from('[1, 2]'));
    const valid = await bed.send(noc.clientId, { topic: 'soar.noc.slocum.after', message: 'still routing' });

    const deadLetters = await bed.take(q(noc.clientId).deadLetter, 4);
    const reasons = deadLetters.map((m) => String(m.properties.headers?.[REJECTION_REASON_HEADER]));
    expect(reasons).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^invalid send request: invalid JSON/),
        expect.stringMatching(/^invalid send request: topic must be a topic/),
        expect.stringMatching(/^invalid send request: topic/),
        'invalid notify request: payload must be a JSON object, got an array',
      ]),
    );
    expect(deadLetters.map((m) => m.properties.headers?.['x-original-queue'])).toEqual(
      expect.arrayContaining([q(noc.clientId).outbox, q(noc.clientId).broadcast]),
    );
    expect(deadLetters.find((m) => m.content.toString() === '{not json')).toBeDefined();

    const [delivered] = await bed.take(q(glider.clientId).inbox, 1);
    expect(envelopeOf(delivered).message_id).toBe(valid);
    await bed.take(q(noc.clientId).inbox, 1);
  });

  it('routes for a client created while running, and stops routing for one deleted', async () => {
    const late: ClientFixture = { clientId: 'late-joiner', subscription: 'soar.late.#' };
    await bed.createClient(late);
    // no restart and no periodic sync in this test (10 min): only the database notification can start it
    await bed.send(late.clientId, { topic: 'soar.noc.hello', message: 'joined' });
    const [fromLate] = await bed.take(q(noc.clientId).inbox, 1, 5_000);
    expect(envelopeOf(fromLate)).toMatchObject({ sender: 'late-joiner', message: 'joined' });
    await bed.send(noc.clientId, { topic: 'soar.late.welcome', message: 'welcome' });
    expect(envelopeOf((await bed.take(q(late.clientId).inbox, 1))[0])).toMatchObject({ sender: 'noc-c2' });

    await bed.deleteClient(late.clientId, { keepQueues: true });
    await eventually(async () => (await bed.consumers(q(late.clientId).outbox)) === 0, 5_000);
    expect(router.get(ClientRouter).routedClients).not.toContain('late-joiner');
    await bed.send(late.clientId, { topic: 'soar.noc.hello', message: 'gone' });
    await eventually(async () => (await bed.depth(q(late.clientId).outbox)) === 1);
    expect(await bed.depth(q(noc.clientId).inbox)).toBe(0);
    await bed.deleteClient(late.clientId);
  });

  it('waits for the queues of a client whose row appears first, and stops cleanly when its queues are deleted first', async () => {
    const early: ClientFixture = { clientId: 'row-first', subscription: 'soar.early.#' };
    await bed.createClient(early, { queuesFirst: false });
    await eventually(async () => router.get(ClientRouter).routedClients.includes('row-first'));
    await new Promise((resolve) => setTimeout(resolve, 300));
    await bed.createQueues(early.clientId, early.subscription);
    await bed.send(early.clientId, { topic: 'soar.noc.early', message: 'made it' });
    expect(envelopeOf((await bed.take(q(noc.clientId).inbox, 1, 5_000))[0])).toMatchObject({ sender: 'row-first' });

    // queues removed while the row still exists: the consumers are cancelled by the broker and keep waiting
    for (const queue of Object.values(q(early.clientId))) await bed.admin.deleteQueue(bed.vhost, queue);
    await bed.deleteClient(early.clientId);
    await eventually(async () => !router.get(ClientRouter).routedClients.includes('row-first'));
    expect(router.get(ClientRouter).routedClients).toEqual(['noc-c2', 'other-ops', 'slocum-glider']);
  });

  it('does not route for clients without the bus scope (admins, checking-engine readers: they have no queues)', async () => {
    await bed.createClient({ clientId: 'admin', subscription: '#', scopes: 'admin checking:read' }, { queuesFirst: false });
    await bed.createClient({ clientId: 'trigger', subscription: 'soar.trigger' });
    await eventually(async () => router.get(ClientRouter).routedClients.includes('trigger'));
    expect(router.get(ClientRouter).routedClients).not.toContain('admin');
    await bed.deleteClient('trigger');
  });

  it('with two routers side by side, delivers each message once and in order, and the standby takes over', async () => {
    const second = await bed.startRouter();
    try {
      await eventually(async () => (await bed.registeredConsumers(q(noc.clientId).outbox)) === 2);
      const send20 = async (from: number) => {
        const ids: string[] = [];
        for (let i = from; i < from + 20; i++) ids.push(await bed.send(noc.clientId, { topic: 'soar.noc.slocum.pair', message: { i } }));
        return ids;
      };
      const expectDeliveredOnceInOrder = async (ids: string[]) => {
        expect((await bed.take(q(glider.clientId).inbox, ids.length, 20_000)).map((m) => envelopeOf(m).message_id)).toEqual(ids);
        await bed.take(q(noc.clientId).inbox, ids.length, 20_000);
      };

      await expectDeliveredOnceInOrder(await send20(0));
      // the first router (the active consumer, as it subscribed first) loses its connection: the standby takes over
      await router.get(AmqpConnection).managedConnection.connection?.close();
      await expectDeliveredOnceInOrder(await send20(20));

      // a duplicate would have arrived with the rest
      await new Promise((resolve) => setTimeout(resolve, 300));
      expect(await bed.depth(q(glider.clientId).inbox)).toBe(0);
      expect(await bed.depth(q(noc.clientId).inbox)).toBe(0);
      expect(await bed.depth(q(noc.clientId).outbox)).toBe(0);
      // and the first one reconnects and stands by again
      await eventually(async () => (await bed.registeredConsumers(q(noc.clientId).outbox)) === 2);
    } finally {
      await BusTestBed.closeRouter(second);
    }
  });
});
