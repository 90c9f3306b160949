import { Logger } from '@nestjs/common';
import { Gate } from '@purple/platform';
import type { DatabaseConnector } from '@purple/persistence';
import type { Message } from 'amqplib';
import { InboxBatch, InboxReader, TakeOptions } from '../broker/inbox-reader';
import { ReceiveMessagesUseCase } from './receive-messages.use-case';
import { ReceiverDedupe } from './receiver-dedupe';
import { DeliveredMessageRepository } from './delivered-message.repository';

/** the database connector as the dedupe sees it: only its gate, open */
const database = (gate = new Gate()) => ({ gate }) as unknown as DatabaseConnector;

/** bus_delivered_message in memory */
function dedupe(delivered = new Set<string>()) {
  const repository = {
    findDelivered: async (_c: string, ids: string[]) => new Set(ids.filter((id) => delivered.has(id))),
    recordDelivered: async (_c: string, ids: string[]) => void ids.forEach((id) => delivered.add(id)),
    deleteExpired: async () => undefined,
  } as unknown as DeliveredMessageRepository;
  return new ReceiverDedupe(repository, database());
}

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

    const received = await new ReceiveMessagesUseCase(reader, dedupe()).execute('noc-c2', { maxMessages: 5, waitSeconds: 2 });
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
    const received = await new ReceiveMessagesUseCase(reader, dedupe()).execute('noc-c2', { maxMessages: 1, waitSeconds: 0 });
    expect(received.envelopes).toEqual([envelope]);
  });

  it('drops a message id the client already had, and a second copy within one batch, acking them with the rest', async () => {
    const second = { ...envelope, message_id: '5d0c3c55-1a43-4f6a-8f5e-3f0a9a2b7c01' };
    const third = { ...envelope, message_id: '9e9a1b1c-2d3e-4f50-8a6b-7c8d9e0f1a2b' };
    const settled: boolean[] = [];
    const batch = (bodies: unknown[]) =>
      ({ take: async (): Promise<InboxBatch> => ({ messages: bodies.map(message), reject: () => undefined, settle: async (d) => void settled.push(d) }) }) as unknown as InboxReader;
    const seen = dedupe();
    const first = await new ReceiveMessagesUseCase(batch([envelope, second, envelope]), seen).execute('noc-c2', { maxMessages: 5, waitSeconds: 0 });
    expect(first.envelopes.map((e) => e.message_id)).toEqual([envelope.message_id, second.message_id]);
    await first.delivered();
    const again = await new ReceiveMessagesUseCase(batch([second, third, envelope]), seen).execute('noc-c2', { maxMessages: 5, waitSeconds: 0 });
    expect(again.envelopes.map((e) => e.message_id)).toEqual([third.message_id]);
    expect(settled).toEqual([true]);
  });

  it('hands out again what a caller abandoned (its response was never written)', async () => {
    const reader = { take: async (): Promise<InboxBatch> => ({ messages: [message(envelope)], reject: () => undefined, settle: async () => undefined }) } as unknown as InboxReader;
    const seen = dedupe();
    await (await new ReceiveMessagesUseCase(reader, seen).execute('noc-c2', { maxMessages: 1, waitSeconds: 0 })).abandoned();
    expect((await new ReceiveMessagesUseCase(reader, seen).execute('noc-c2', { maxMessages: 1, waitSeconds: 0 })).envelopes).toEqual([envelope]);
  });

  it('answers 503, returning the batch to the inbox, while duplicates cannot be checked', async () => {
    const settled: boolean[] = [];
    const reader = { take: async (): Promise<InboxBatch> => ({ messages: [message(envelope)], reject: () => undefined, settle: async (d) => void settled.push(d) }) } as unknown as InboxReader;
    const gate = new Gate();
    const down = new ReceiverDedupe(
      { findDelivered: async () => Promise.reject(new Error('connect ECONNREFUSED')), deleteExpired: async () => undefined } as unknown as DeliveredMessageRepository,
      database(gate),
    );
    await expect(new ReceiveMessagesUseCase(reader, down).execute('noc-c2', { maxMessages: 1, waitSeconds: 0 })).rejects.toThrow(/database is unavailable/);
    expect(settled).toEqual([false]);
    expect(gate.isOpen).toBe(false);
  });

  it('takes nothing from the inbox while the database gate is closed (an outage does not count deliveries)', async () => {
    let takes = 0;
    const reader = { take: async (): Promise<InboxBatch> => (takes++, { messages: [message(envelope)], reject: () => undefined, settle: async () => undefined }) } as unknown as InboxReader;
    const gate = new Gate('PostgreSQL unreachable');
    const useCase = new ReceiveMessagesUseCase(reader, new ReceiverDedupe({ findDelivered: async () => new Set(), deleteExpired: async () => undefined } as unknown as DeliveredMessageRepository, database(gate)));
    await expect(useCase.execute('noc-c2', { maxMessages: 1, waitSeconds: 0 })).rejects.toThrow(/database is unavailable/);
    expect(takes).toBe(0);
    gate.open(); // PostgreSQL answers again (the connector's probe)
    expect((await useCase.execute('noc-c2', { maxMessages: 1, waitSeconds: 0 })).envelopes).toEqual([envelope]);
    expect(takes).toBe(1);
  });
});
