import { Logger } from '@nestjs/common';
import type { Message } from 'amqplib';
import { InboxBatch, InboxReader, TakeOptions } from '../broker/inbox-reader';
import { ReceiveMessagesUseCase } from './receive-messages.use-case';

const message = (body: unknown): Message => ({ content: Buffer.from(typeof body === 'string' ? body : JSON.stringify(body)) }) as Message;
const envelope = { message_id: '0b7f1f46-5c1e-4a8e-9d53-2f1a0e4c9b11', topic: 'soar.noc.x', sender: 'ops', sent_at: '2026-01-01T00:00:00Z', message: { a: 1 } };

describe('ReceiveMessagesUseCase', () => {
  beforeAll(() => Logger.overrideLogger(false)); // the dead-lettering warnings are expected here

  it('hands out valid envelopes, dead-letters the rest, and settles as the caller says', async () => {
    const rejected: Message[] = [];
    const settled: boolean[] = [];
    const messages = [message(envelope), message('not json'), message({ ...envelope, topic: 'soar.*' })];
    let options: TakeOptions | undefined;
    const reader = {
      take: async (_id: string, o: TakeOptions): Promise<InboxBatch> => {
        options = o;
        return { messages, reject: (m) => void rejected.push(m), settle: async (d) => void settled.push(d) };
      },
    } as unknown as InboxReader;

    const received = await new ReceiveMessagesUseCase(reader).execute('noc-c2', { maxMessages: 5, waitSeconds: 2 });
    expect(options).toMatchObject({ maxMessages: 5, waitMs: 2000 });
    expect(received.envelopes).toEqual([envelope]);
    expect(rejected).toEqual([messages[1], messages[2]]);
    await received.delivered();
    await received.abandoned();
    expect(settled).toEqual([true, false]);
  });

  it('returns exactly the envelope fields', async () => {
    const reader = {
      take: async (): Promise<InboxBatch> => ({ messages: [message({ ...envelope, extra: 'x' })], reject: () => undefined, settle: async () => undefined }),
    } as unknown as InboxReader;
    const received = await new ReceiveMessagesUseCase(reader).execute('noc-c2', { maxMessages: 1, waitSeconds: 0 });
    expect(received.envelopes).toEqual([envelope]);
  });
});
