import { ACK, RELEASE } from '@purple/messaging';
import { Logger } from '@nestjs/common';
import { fakeDelivery, testConfig } from '../../test/doubles';
import { EnvelopePublisher } from './envelope-publisher';
import { ForwardBroadcastMessage } from './forward-broadcast-message';
import { ForwardOutboxMessage } from './forward-outbox-message';

Logger.overrideLogger(false);
const publisher = new EnvelopePublisher(testConfig());
const forwardOutbox = new ForwardOutboxMessage(publisher);
const forwardBroadcast = new ForwardBroadcastMessage(publisher);
const MESSAGE_ID = '0b6e3f5e-8a51-4c0e-9f59-3f1c2e8d7a10';
const parse = (content: Buffer) => JSON.parse(content.toString('utf8'));

describe('ForwardOutboxMessage', () => {
  it('publishes an envelope on soar-publish under the topic, with the outbox owner as sender and the AMQP message id', async () => {
    const { delivery, published } = fakeDelivery({ topic: 'soar.noc.slocum.x', message: { a: 1 }, sender: 'impostor' }, { messageId: MESSAGE_ID, correlationId: 'corr-1' });
    expect(await forwardOutbox.execute('noc-c2', delivery)).toEqual(ACK);
    expect(published).toHaveLength(1);
    const [{ exchange, routingKey, content, options }] = published;
    expect([exchange, routingKey]).toEqual(['soar-publish', 'soar.noc.slocum.x']);
    expect(parse(content)).toEqual({ message_id: MESSAGE_ID, topic: 'soar.noc.slocum.x', sender: 'noc-c2', sent_at: expect.any(String), message: { a: 1 } });
    expect(options).toMatchObject({ persistent: true, messageId: MESSAGE_ID, correlationId: 'corr-1', contentType: 'application/json' });
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

  it('retries a publish the broker refuses (a full inbox) and acks once it is confirmed', async () => {
    const { delivery, published, attempts } = fakeDelivery({ topic: 'soar.x', message: 1 }, {}, 2);
    expect(await forwardOutbox.execute('noc-c2', delivery)).toEqual(ACK);
    expect(attempts()).toBe(3);
    expect(published).toHaveLength(1);
  });

  it('releases the message, unacked, when stopped while the broker keeps refusing', async () => {
    const { delivery, abort } = fakeDelivery({ topic: 'soar.x', message: 1 }, {}, Number.MAX_SAFE_INTEGER);
    const outcome = forwardOutbox.execute('noc-c2', delivery);
    setTimeout(() => abort.abort(), 50);
    expect(await outcome).toEqual(RELEASE);
  });
});

describe('ForwardBroadcastMessage', () => {
  it('publishes an envelope with the topic "broadcast" on soar-broadcast', async () => {
    const { delivery, published } = fakeDelivery({ message: 'hello all' }, { messageId: MESSAGE_ID });
    expect(await forwardBroadcast.execute('ops', delivery)).toEqual(ACK);
    expect(published[0].exchange).toBe('soar-broadcast');
    expect(parse(published[0].content)).toMatchObject({ message_id: MESSAGE_ID, topic: 'broadcast', sender: 'ops', message: 'hello all' });
  });

  it('dead-letters a body without a message', async () => {
    const { delivery } = fakeDelivery({ text: 'no message field' });
    expect(await forwardBroadcast.execute('ops', delivery)).toEqual({ action: 'dead-letter', reason: 'invalid notify request: message is required' });
  });
});
