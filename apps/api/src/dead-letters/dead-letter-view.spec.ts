import type { Message } from 'amqplib';
import { deadLetterView } from './dead-letter-view';

const message = (content: string, properties: Record<string, unknown>) => ({ content: Buffer.from(content), properties }) as unknown as Message;

describe('deadLetterView', () => {
  it('prefers the app’s reason header, and reads the broker’s x-death otherwise', () => {
    const byRouter = message('{"message_id":"m1"}', { headers: { 'x-rejection-reason': 'webhook answered 500', 'x-original-queue': 'a-inbox' } });
    expect(deadLetterView(byRouter)).toEqual({ message_id: 'm1', reason: 'webhook answered 500', queue: 'a-inbox', dead_lettered_at: null, count: 0, body: { message_id: 'm1' } });

    const byBroker = message('not json', {
      messageId: 'm2',
      headers: { 'x-death': [{ reason: 'rejected', queue: 'a-inbox', count: 2, time: { '!': 'timestamp', value: 1767225600 } }] },
    });
    expect(deadLetterView(byBroker)).toEqual({ message_id: 'm2', reason: 'rejected', queue: 'a-inbox', dead_lettered_at: '2026-01-01T00:00:00.000Z', count: 2, body: 'not json' });
  });
});
