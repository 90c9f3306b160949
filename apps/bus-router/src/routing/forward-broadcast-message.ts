import { Injectable } from '@nestjs/common';
import { NotifyRequest, parseJsonMessage } from '@purple/contracts';
import { BROADCAST_TOPIC, buildEnvelope, envelopeMessageId } from '@purple/bus';
import { Delivery, Disposition, deadLetter } from '@purple/messaging';
import { DestinationDirectory } from './destination-directory';
import { EnvelopePublisher } from './envelope-publisher';

/**
 * The seed's broadcast step: a message from `<client>-broadcast` reaches every inbox, one copy each,
 * with the topic {@link BROADCAST_TOPIC} and the owner of the queue as sender.
 */
@Injectable()
export class ForwardBroadcastMessage {
  constructor(
    private readonly publisher: EnvelopePublisher,
    private readonly directory: DestinationDirectory,
  ) {}

  async execute(owner: string, delivery: Delivery): Promise<Disposition> {
    const request = parseJsonMessage(NotifyRequest, delivery.message.content);
    if (!request.ok) return deadLetter(`invalid notify request: ${request.errors.join('; ')}`);
    const envelope = buildEnvelope({
      messageId: envelopeMessageId(delivery.message.properties.messageId),
      topic: BROADCAST_TOPIC,
      sender: owner,
      message: request.value.message,
    });
    return this.publisher.deliver(delivery, this.directory.everyone(), envelope);
  }
}
