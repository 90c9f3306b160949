import { Injectable, NotFoundException } from '@nestjs/common';
import { ClientPrincipal } from '@purple/auth';
import { BusClientEntity } from '@purple/persistence';
import { assertAdminOrSelf } from './client-access';
import { ClientRepository } from './client.repository';

/** `GET /clients/{id}`: the admin reads any client, a client its own record. */
@Injectable()
export class GetClientUseCase {
  constructor(private readonly clients: ClientRepository) {}

  async execute(caller: ClientPrincipal, clientId: string): Promise<BusClientEntity> {
    assertAdminOrSelf(caller, clientId);
    const client = await this.clients.findById(clientId);
    if (!client) throw new NotFoundException(`no client ${clientId}`);
    return client;
  }
}
