import { Logger } from '@nestjs/common';
import type { MessageProperties } from 'amqplib';
import { REJECTION_REASON_HEADER } from '@purple/messaging';
import { ACK, RELEASE } from '@purple/messaging';
import { fakeDelivery, testConfig } from '../../test/doubles';
import { parkedOptions, readParkedCopy } from './parked-copy';
import { RetryParkedCopy } from './retry-parked-copy';

Logger.overrideLogger(false);
const retry = new RetryParkedCopy(testConfig());
const ENVELOPE = { message_id: 'm-1', topic: 'soar.x', sender: 'alpha', sent_at: new Date().toISOString(), message: 1 };
const nacked = () => new Error('message nacked');

/** A message as the retry queue gives it out: the envelope with a parked copy's headers. */
function parked(copy: { attempts?: number; retryAt?: number; giveUpAt?: number }) {
  const options = parkedOptions(
    { messageId: 'm-1', persistent: true, contentType: 'application/json', headers: { 'x-sender': 'alpha' } },
    { destination: 'idle', attempts: 1, retryAt: Date.now(), giveUpAt: Date.now() + 60_000, ...copy },
  );
  return { ...options, headers: options.headers } as unknown as Partial<MessageProperties>;
}

describe('RetryParkedCopy', () => {
  it('delivers the copy to its inbox at its time, without the retry headers, and acks', async () => {
    const retryAt = Date.now() + 40;
    const { delivery, published } = fakeDelivery(ENVELOPE, parked({ retryAt }));
    expect(await retry.execute(delivery)).toEqual(ACK);
    expect(Date.now()).toBeGreaterThanOrEqual(retryAt);
    expect(published).toHaveLength(1);
    expect([published[0].exchange, published[0].routingKey]).toEqual(['soar-direct', 'idle']);
    expect(published[0].options).toMatchObject({ messageId: 'm-1', persistent: true, headers: { 'x-sender': 'alpha' } });
    expect(readParkedCopy(published[0].options as never)).toBeUndefined();
  });

  it('parks a copy refused again before its deadline, with one more attempt and a later time', async () => {
    const { delivery, published } = fakeDelivery(ENVELOPE, parked({ attempts: 3 }), (p) => (p.exchange === 'soar-direct' ? nacked() : undefined));
    expect(await retry.execute(delivery)).toEqual(ACK);
    expect(published.map((p) => [p.exchange, p.routingKey])).toEqual([['soar-retry', 'idle']]);
    const again = readParkedCopy(published[0].options as never);
    expect(again).toMatchObject({ destination: 'idle', attempts: 4 });
    expect(again?.retryAt).toBeGreaterThan(Date.now() - 5);
  });

  it('dead-letters a copy refused past its deadline to its client with the reason "inbox full"', async () => {
    const { delivery, published } = fakeDelivery(ENVELOPE, parked({ attempts: 7, giveUpAt: Date.now() - 1 }), (p) => (p.exchange === 'soar-direct' ? nacked() : undefined));
    expect(await retry.execute(delivery)).toEqual(ACK);
    expect(published.map((p) => [p.exchange, p.routingKey])).toEqual([['soar-dlx', 'idle']]);
    expect(published[0].options).toMatchObject({
      messageId: 'm-1',
      headers: { [REJECTION_REASON_HEADER]: 'inbox full', 'x-original-queue': 'idle-inbox', 'x-attempts': 8, 'x-sender': 'alpha' },
    });
  });

  it('still delivers a copy whose deadline passed while it waited, if its inbox has room now', async () => {
    const { delivery, published } = fakeDelivery(ENVELOPE, parked({ giveUpAt: Date.now() - 1000 }));
    expect(await retry.execute(delivery)).toEqual(ACK);
    expect(published.map((p) => p.exchange)).toEqual(['soar-direct']);
  });

  it('keeps the copy in hand while the retry queue refuses it too, and parks it once it can', async () => {
    let refusals = 2;
    const { delivery, published } = fakeDelivery(ENVELOPE, parked({}), (p) => (p.exchange === 'soar-direct' || refusals-- > 0 ? nacked() : undefined));
    expect(await retry.execute(delivery)).toEqual(ACK);
    expect(published.map((p) => p.exchange)).toEqual(['soar-retry']);
  });

  it('releases the copy when the channel closes or the consumer stops', async () => {
    const closed = fakeDelivery(ENVELOPE, parked({}), () => new Error('channel closed'));
    expect(await retry.execute(closed.delivery)).toEqual(RELEASE);
    const stopping = fakeDelivery(ENVELOPE, parked({ retryAt: Date.now() + 60_000 }));
    setTimeout(() => stopping.abort.abort(), 20);
    expect(await retry.execute(stopping.delivery)).toEqual(RELEASE);
    expect(stopping.published).toHaveLength(0);
  });

  it('dead-letters a message without a parked copy’s headers', async () => {
    const { delivery, published } = fakeDelivery(ENVELOPE, { headers: { 'x-destination': 'idle' } });
    expect(await retry.execute(delivery)).toEqual({ action: 'dead-letter', reason: expect.stringMatching(/^not a parked copy/) });
    expect(published).toHaveLength(0);
  });
});
