import { Injectable, NotFoundException, ServiceUnavailableException } from '@nestjs/common';
import { ClientPrincipal } from '@purple/auth';
import { DeadLetterQueue, ReplayError } from '../broker/dead-letter-queue';
import { assertAdminOrSelf } from '../clients/client-access';
import { isBusClient } from '../clients/client-view';
import { ClientRepository } from '../clients/client.repository';

/** `POST /clients/{id}/dead-letters/replay`: the client's dead letters back into its inbox, each confirmed then acked. */
@Injectable()
export class ReplayDeadLettersUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly deadLetters: DeadLetterQueue,
  ) {}

  async execute(caller: ClientPrincipal, clientId: string, max: number): Promise<number> {
    assertAdminOrSelf(caller, clientId);
    const client = await this.clients.findById(clientId);
    if (!client || !isBusClient(client)) throw new NotFoundException(`no bus client ${clientId}`);
    try {
      return await this.deadLetters.replay(clientId, max);
    } catch (error) {
      // what was moved is in the inbox; the rest is still in the dead-letter queue, so replaying again is safe
      if (error instanceof ReplayError) throw new ServiceUnavailableException(error.message);
      throw error;
    }
  }
}
