import { Injectable } from '@nestjs/common';
import { SendRequest, parseJsonMessage } from '@purple/contracts';
import { buildEnvelope, envelopeMessageId } from '@purple/bus';
import { Delivery, Disposition, deadLetter } from '@purple/messaging';
import { DestinationDirectory } from './destination-directory';
import { EnvelopePublisher } from './envelope-publisher';

/**
 * The seed's forward + publish steps: a message from `<client>-outbox` reaches every inbox whose subscription
 * matches its topic, one copy per inbox (see EnvelopePublisher). The sender is the owner of the outbox, whatever
 * the body claims.
 */
@Injectable()
export class ForwardOutboxMessage {
  constructor(
    private readonly publisher: EnvelopePublisher,
    private readonly directory: DestinationDirectory,
  ) {}

  async execute(owner: string, delivery: Delivery): Promise<Disposition> {
    const request = parseJsonMessage(SendRequest, delivery.message.content);
    if (!request.ok) return deadLetter(`invalid send request: ${request.errors.join('; ')}`);
    const envelope = buildEnvelope({
      messageId: envelopeMessageId(delivery.message.properties.messageId),
      topic: request.value.topic,
      sender: owner,
      message: request.value.message,
    });
    return this.publisher.deliver(delivery, this.directory.subscribersOf(envelope.topic), envelope);
  }
}
