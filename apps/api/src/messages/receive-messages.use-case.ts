import { Injectable, Logger } from '@nestjs/common';
import { DeliveredEnvelope, readEnvelope } from '../broker/inbox-envelope';
import { InboxReader } from '../broker/inbox-reader';
import { ReceiverDedupe } from './receiver-dedupe';

export interface ReceiveOptions {
  maxMessages: number;
  waitSeconds: number;
}

/** The envelopes taken, and what to do once the caller has them or has gone. */
export interface ReceivedMessages {
  envelopes: DeliveredEnvelope[];
  /** the response has been written: ack */
  delivered(): Promise<void>;
  /** the caller left first: the messages go back to the inbox */
  abandoned(): Promise<void>;
}

/**
 * `GET /receive`: drains the caller's inbox. Nothing is acked here: the controller acks once the response is
 * written. An unreadable message (not a valid envelope) is dead-lettered to the client's DLQ instead of being
 * handed out or left to block the inbox. A message the caller already had (same message_id) is dropped: acked with
 * the rest, never handed out twice (see ReceiverDedupe).
 */
@Injectable()
export class ReceiveMessagesUseCase {
  private readonly logger = new Logger('Receive');

  constructor(
    private readonly inbox: InboxReader,
    private readonly dedupe: ReceiverDedupe,
  ) {}

  async execute(clientId: string, options: ReceiveOptions, signal?: AbortSignal): Promise<ReceivedMessages> {
    this.dedupe.assertAvailable();
    const batch = await this.inbox.take(clientId, { maxMessages: options.maxMessages, waitMs: options.waitSeconds * 1000, signal });
    const envelopes: DeliveredEnvelope[] = [];
    for (const message of batch.messages) {
      const read = readEnvelope(message.content);
      if (read.ok) {
        envelopes.push(read.envelope);
      } else {
        this.logger.warn(`dead-lettering an unreadable message in ${clientId}'s inbox: ${read.reason}`);
        batch.reject(message);
      }
    }
    let unseen: DeliveredEnvelope[];
    try {
      unseen = await this.dedupe.unseen(clientId, envelopes);
    } catch (error) {
      await batch.settle(false);
      throw error;
    }
    return {
      envelopes: unseen,
      delivered: async () => {
        await this.dedupe.remember(clientId, unseen);
        await batch.settle(true);
      },
      abandoned: () => batch.settle(false),
    };
  }
}
