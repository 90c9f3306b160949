import { ACK, RELEASE } from '@purple/messaging';
import { Logger } from '@nestjs/common';
import { fakeDelivery, testConfig } from '../../test/doubles';
import { DestinationDirectory } from './destination-directory';
import { EnvelopePublisher } from './envelope-publisher';
import { ForwardBroadcastMessage } from './forward-broadcast-message';
import { ForwardOutboxMessage } from './forward-outbox-message';
import { readParkedCopy } from './parked-copy';

Logger.overrideLogger(false);
const config = testConfig({ ROUTER_INBOX_FULL_RETRY_MS: '60000' });
const publisher = new EnvelopePublisher(config);
const directory = new DestinationDirectory();
directory.replaceAll([
  { clientId: 'noc-c2', subscription: 'soar.noc.#' },
  { clientId: 'slocum-glider', subscription: 'soar.noc.slocum.*' },
  { clientId: 'other-ops', subscription: 'soar.other.#' },
]);
const forwardOutbox = new ForwardOutboxMessage(publisher, directory);
const forwardBroadcast = new ForwardBroadcastMessage(publisher, directory);
const MESSAGE_ID = '0b6e3f5e-8a51-4c0e-9f59-3f1c2e8d7a10';
const parse = (content: Buffer) => JSON.parse(content.toString('utf8'));
const nacked = () => new Error('message nacked');

describe('ForwardOutboxMessage', () => {
  it('publishes one envelope per matching inbox on soar-direct, with the outbox owner as sender and the AMQP message id', async () => {
    const { delivery, published } = fakeDelivery({ topic: 'soar.noc.slocum.x', message: { a: 1 }, sender: 'impostor' }, { messageId: MESSAGE_ID, correlationId: 'corr-1' });
    expect(await forwardOutbox.execute('noc-c2', delivery)).toEqual(ACK);
    expect(published.map((p) => [p.exchange, p.routingKey])).toEqual([
      ['soar-direct', 'noc-c2'],
      ['soar-direct', 'slocum-glider'],
    ]);
    for (const { content, options } of published) {
      expect(parse(content)).toEqual({ message_id: MESSAGE_ID, topic: 'soar.noc.slocum.x', sender: 'noc-c2', sent_at: expect.any(String), message: { a: 1 } });
      expect(options).toMatchObject({ persistent: true, messageId: MESSAGE_ID, correlationId: 'corr-1', contentType: 'application/json' });
    }
  });

  it('acks a message no subscription matches, publishing nothing', async () => {
    const { delivery, published } = fakeDelivery({ topic: 'soar.nobody.listens', message: 1 });
    expect(await forwardOutbox.execute('noc-c2', delivery)).toEqual(ACK);
    expect(published).toHaveLength(0);
  });

  it.each([
    ['broken JSON', '{"topic":', /^invalid send request: invalid JSON/],
    ['a wildcard topic', { topic: 'soar.#', message: 1 }, /^invalid send request: topic must be a topic/],
    ['an empty word', { topic: 'soar..x', message: 1 }, /topic must be a topic/],
    ['no message', { topic: 'soar.x' }, /message is required/],
    ['a topic of the wrong type', { topic: 42, message: 1 }, /topic must be a topic/],
    ['an array', [1], /payload must be a JSON object, got an array/],
  ])('dead-letters %s with the reason, publishing nothing', async (_what, body, reason) => {
    const { delivery, published } = fakeDelivery(body);
    const disposition = await forwardOutbox.execute('noc-c2', delivery);
    expect(disposition).toEqual({ action: 'dead-letter', reason: expect.stringMatching(reason) });
    expect(published).toHaveLength(0);
  });

  it('parks only the copy a full inbox refused, delivers the others once, and acks', async () => {
    const { delivery, published } = fakeDelivery({ topic: 'soar.noc.slocum.x', message: 1 }, { messageId: MESSAGE_ID }, (p) =>
      p.exchange === 'soar-direct' && p.routingKey === 'slocum-glider' ? nacked() : undefined,
    );
    const before = Date.now();
    expect(await forwardOutbox.execute('noc-c2', delivery)).toEqual(ACK);
    expect(published.map((p) => [p.exchange, p.routingKey])).toEqual([
      ['soar-direct', 'noc-c2'],
      ['soar-retry', 'slocum-glider'],
    ]);
    const parked = readParkedCopy(published[1].options as never);
    expect(parked).toEqual({ destination: 'slocum-glider', attempts: 1, retryAt: expect.any(Number), giveUpAt: expect.any(Number) });
    expect(parked?.giveUpAt).toBeGreaterThanOrEqual(before + 60_000);
    expect(parked?.retryAt).toBeLessThanOrEqual(Date.now() + 10);
    expect(parse(published[1].content)).toMatchObject({ message_id: MESSAGE_ID, sender: 'noc-c2' });
  });

  it('keeps parking with backoff while the retry queue refuses too, and acks once parked', async () => {
    let refusals = 2;
    const { delivery, published } = fakeDelivery({ topic: 'soar.noc.slocum.x', message: 1 }, {}, (p) =>
      p.routingKey === 'slocum-glider' && (p.exchange === 'soar-direct' || refusals-- > 0) ? nacked() : undefined,
    );
    expect(await forwardOutbox.execute('noc-c2', delivery)).toEqual(ACK);
    expect(refusals).toBe(-1);
    expect(published.filter((p) => p.exchange === 'soar-retry')).toHaveLength(1);
  });

  it('releases the message when the channel closes before every copy is confirmed', async () => {
    const { delivery } = fakeDelivery({ topic: 'soar.noc.slocum.x', message: 1 }, {}, (p) => (p.routingKey === 'slocum-glider' ? new Error('channel closed') : undefined));
    expect(await forwardOutbox.execute('noc-c2', delivery)).toEqual(RELEASE);
  });

  it('releases the message, unacked, when stopped while nothing will take the refused copy', async () => {
    const { delivery, abort } = fakeDelivery({ topic: 'soar.noc.slocum.x', message: 1 }, {}, (p) => (p.routingKey === 'slocum-glider' ? nacked() : undefined));
    const outcome = forwardOutbox.execute('noc-c2', delivery);
    setTimeout(() => abort.abort(), 50);
    expect(await outcome).toEqual(RELEASE);
  });
});

describe('ForwardBroadcastMessage', () => {
  it('publishes one envelope with the topic "broadcast" to every inbox', async () => {
    const { delivery, published } = fakeDelivery({ message: 'hello all' }, { messageId: MESSAGE_ID });
    expect(await forwardBroadcast.execute('ops', delivery)).toEqual(ACK);
    expect(published.map((p) => [p.exchange, p.routingKey])).toEqual([
      ['soar-direct', 'noc-c2'],
      ['soar-direct', 'other-ops'],
      ['soar-direct', 'slocum-glider'],
    ]);
    expect(parse(published[0].content)).toMatchObject({ message_id: MESSAGE_ID, topic: 'broadcast', sender: 'ops', message: 'hello all' });
  });

  it('dead-letters a body without a message', async () => {
    const { delivery } = fakeDelivery({ text: 'no message field' });
    expect(await forwardBroadcast.execute('ops', delivery)).toEqual({ action: 'dead-letter', reason: 'invalid notify request: message is required' });
  });
});
