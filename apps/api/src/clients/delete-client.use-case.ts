import { ConflictException, Injectable, NotFoundException } from '@nestjs/common';
import { ApiEnv } from '../config/api-env';
import { ClientBrokerObjects } from './client-broker-objects';
import { isBusClient } from './client-view';
import { ClientRepository } from './client.repository';

/**
 * `DELETE /clients/{id}`: removes the client's queues, then its row; its tokens stop working at once, because every
 * request looks the client up.
 */
@Injectable()
export class DeleteClientUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly brokerObjects: ClientBrokerObjects,
    private readonly env: ApiEnv,
  ) {}

  async execute(clientId: string): Promise<void> {
    if (clientId === this.env.ADMIN_CLIENT_ID) {
      throw new ConflictException(`client ${clientId} is the configured admin (ADMIN_CLIENT_ID): it is recreated at every start`);
    }
    const deleted = await this.clients.delete(clientId, async (current) => {
      if (isBusClient(current)) await this.brokerObjects.remove(clientId);
    });
    if (!deleted) throw new NotFoundException(`no client ${clientId}`);
  }
}
