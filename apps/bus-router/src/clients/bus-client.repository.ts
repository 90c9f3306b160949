import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Repository } from 'typeorm';
import { BusClientEntity } from '@purple/persistence';

/** What the router needs to know about a client to route for it and push to it. */
export interface RoutedClient {
  clientId: string;
  /** bus clients have queues; admins and checking-engine readers do not */
  isBusClient: boolean;
  /** the topic pattern its inbox receives */
  subscription: string;
  webhookUrl: string | null;
  webhookEnabled: boolean;
  webhookSecretCiphertext: string | null;
}

/** The router's reads and writes of bus_client. */
@Injectable()
export class BusClientRepository {
  constructor(@InjectRepository(BusClientEntity) private readonly clients: Repository<BusClientEntity>) {}

  async findAll(): Promise<RoutedClient[]> {
    return (await this.clients.find({ order: { clientId: 'ASC' } })).map(toRoutedClient);
  }

  async findById(clientId: string): Promise<RoutedClient | undefined> {
    const row = await this.clients.findOneBy({ clientId });
    return row ? toRoutedClient(row) : undefined;
  }

  /** After a 410 Gone: the client's messages stay in its inbox for /receive until it registers a webhook again. */
  async disableWebhook(clientId: string): Promise<void> {
    await this.clients.update({ clientId }, { webhookEnabled: false });
  }
}

function toRoutedClient(row: BusClientEntity): RoutedClient {
  return {
    clientId: row.clientId,
    isBusClient: row.scopes.split(/\s+/).includes('bus'),
    subscription: row.subscription,
    webhookUrl: row.webhookUrl,
    webhookEnabled: row.webhookEnabled,
    webhookSecretCiphertext: row.webhookSecretCiphertext,
  };
}
