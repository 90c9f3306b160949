import { Injectable } from '@nestjs/common';
import { BusClientEntity } from '@purple/persistence';
import { ClientRepository } from './client.repository';

/** `GET /clients` (admin): every client, by id. */
@Injectable()
export class ListClientsUseCase {
  constructor(private readonly clients: ClientRepository) {}

  execute(): Promise<BusClientEntity[]> {
    return this.clients.list();
  }
}
