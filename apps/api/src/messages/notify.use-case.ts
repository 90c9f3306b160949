import { Injectable } from '@nestjs/common';
import { NotifyRequest } from '@purple/contracts';
import { ConfirmedPublisher } from '@purple/messaging';
import { SOAR_EXCHANGES } from '@purple/topology';
import { validBody } from './validate-body';

/** `POST /notify`: into the sender's broadcast queue through `soar-notify`; the router delivers it to every inbox. */
@Injectable()
export class NotifyUseCase {
  constructor(private readonly publisher: ConfirmedPublisher) {}

  async execute(senderId: string, body: unknown, correlationId?: string): Promise<string> {
    const request = validBody(NotifyRequest, body);
    return this.publisher.publish(SOAR_EXCHANGES.notify, senderId, { message: request.message }, { correlationId });
  }
}
