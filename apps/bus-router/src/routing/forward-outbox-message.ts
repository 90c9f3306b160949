import { Injectable } from '@nestjs/common';
import { SendRequest, parseJsonMessage } from '@purple/contracts';
import { buildEnvelope, envelopeMessageId } from '@purple/bus';
import { SOAR_EXCHANGES } from '@purple/topology';
import { Delivery, Disposition, deadLetter } from '@purple/messaging';
import { EnvelopePublisher } from './envelope-publisher';

/**
 * The seed's forward + publish steps: a message from `<client>-outbox` is published on `soar-publish` under its
 * topic, reaching every inbox whose subscription matches. The sender is the owner of the outbox, whatever the
 * body claims.
 */
@Injectable()
export class ForwardOutboxMessage {
  constructor(private readonly publisher: EnvelopePublisher) {}

  async execute(owner: string, delivery: Delivery): Promise<Disposition> {
    const request = parseJsonMessage(SendRequest, delivery.message.content);
    if (!request.ok) return deadLetter(`invalid send request: ${request.errors.join('; ')}`);
    const envelope = buildEnvelope({
      messageId: envelopeMessageId(delivery.message.properties.messageId),
      topic: request.value.topic,
      sender: owner,
      message: request.value.message,
    });
    return this.publisher.publish(delivery, SOAR_EXCHANGES.publish, envelope.topic, envelope);
  }
}
