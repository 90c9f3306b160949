import { Injectable, NotFoundException } from '@nestjs/common';
import { ClientPrincipal } from '@purple/auth';
import { DeadLetterQueue } from '../broker/dead-letter-queue';
import { assertAdminOrSelf } from '../clients/client-access';
import { isBusClient } from '../clients/client-view';
import { ClientRepository } from '../clients/client.repository';
import { deadLetterView } from './dead-letter-view';
import { DeadLetterDto } from './dead-letters.dto';

/** `GET /clients/{id}/dead-letters`: a look at the client's dead letters; they stay where they are. */
@Injectable()
export class ListDeadLettersUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly deadLetters: DeadLetterQueue,
  ) {}

  async execute(caller: ClientPrincipal, clientId: string, max: number): Promise<DeadLetterDto[]> {
    assertAdminOrSelf(caller, clientId);
    const client = await this.clients.findById(clientId);
    if (!client || !isBusClient(client)) throw new NotFoundException(`no bus client ${clientId}`);
    return (await this.deadLetters.peek(clientId, max)).map(deadLetterView);
  }
}
