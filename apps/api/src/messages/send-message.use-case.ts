import { Injectable } from '@nestjs/common';
import { SendRequest } from '@purple/contracts';
import { ConfirmedPublisher } from '@purple/messaging';
import { SOAR_EXCHANGES } from '@purple/topology';
import { validBody } from './validate-body';

/**
 * `POST /send`: into the sender's outbox through `soar-send` (routing key = the sender's client id), persistent and
 * confirmed by the broker before the message id is returned. The router reads the topic from the body and stamps
 * the sender from the outbox's owner, never from anything the body claims.
 */
@Injectable()
export class SendMessageUseCase {
  constructor(private readonly publisher: ConfirmedPublisher) {}

  async execute(senderId: string, body: unknown, correlationId?: string): Promise<string> {
    const request = validBody(SendRequest, body);
    return this.publisher.publish(SOAR_EXCHANGES.send, senderId, { topic: request.topic, message: request.message }, { correlationId });
  }
}
