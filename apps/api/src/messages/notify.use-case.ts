import { Injectable } from '@nestjs/common';
import { NotifyRequest } from '@purple/contracts';
import { SOAR_EXCHANGES } from '@purple/topology';
import { IdempotentPublisher } from './idempotent-publisher';
import { validBody } from './validate-body';

/**
 * `POST /notify`: into the sender's broadcast queue through `soar-notify`, once per idempotency key when one is
 * given; the router delivers it to every inbox.
 */
@Injectable()
export class NotifyUseCase {
  constructor(private readonly publisher: IdempotentPublisher) {}

  async execute(senderId: string, body: unknown, correlationId?: string, idempotencyKey?: string): Promise<string> {
    const request = validBody(NotifyRequest, body);
    return this.publisher.publish(senderId, idempotencyKey, SOAR_EXCHANGES.notify, { message: request.message }, correlationId);
  }
}
