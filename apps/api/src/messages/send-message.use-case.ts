import { Injectable } from '@nestjs/common';
import { SendRequest } from '@purple/contracts';
import { SOAR_EXCHANGES } from '@purple/topology';
import { IdempotentPublisher } from './idempotent-publisher';
import { validBody } from './validate-body';

/**
 * `POST /send`: into the sender's outbox through `soar-send` (routing key = the sender's client id), persistent and
 * confirmed by the broker before the message id is returned; once per idempotency key when one is given. The router
 * reads the topic from the body and stamps the sender from the outbox's owner, never from anything the body claims.
 */
@Injectable()
export class SendMessageUseCase {
  constructor(private readonly publisher: IdempotentPublisher) {}

  async execute(senderId: string, body: unknown, correlationId?: string, idempotencyKey?: string): Promise<string> {
    const request = validBody(SendRequest, body);
    return this.publisher.publish(senderId, idempotencyKey, SOAR_EXCHANGES.send, { topic: request.topic, message: request.message }, correlationId);
  }
}
