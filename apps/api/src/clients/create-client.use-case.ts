import { BadRequestException, ConflictException, ForbiddenException, Injectable } from '@nestjs/common';
import { ClientPrincipal, Scope, formatScopes, generateClientSecret, hasScope, hashClientSecret } from '@purple/auth';
import { BusClientEntity } from '@purple/persistence';
import { ClientBrokerObjects } from './client-broker-objects';
import { ClientExistsError, ClientRepository } from './client.repository';
import { CreateClientRequest } from './clients.dto';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookUrlPolicy } from './webhook-url-policy';

export interface CreatedClient {
  client: BusClientEntity;
  clientSecret: string;
  webhookSecret?: string;
}

/**
 * `POST /clients`: registers a client with a new secret (stored only as its hash) and, for a bus client, creates its
 * queues and bindings before answering. The row is inserted first and committed last, so a taken id never touches
 * the broker and a broker failure leaves no client behind.
 */
@Injectable()
export class CreateClientUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly brokerObjects: ClientBrokerObjects,
    private readonly webhookUrls: WebhookUrlPolicy,
    private readonly webhookSecrets: WebhookSecrets,
  ) {}

  async execute(request: CreateClientRequest, caller: ClientPrincipal): Promise<CreatedClient> {
    const scopes: Scope[] = request.scopes ?? ['bus'];
    // the bus admin alone cannot hand out the checking engine's operator powers
    if (scopes.includes('checking:admin') && !hasScope(caller, 'checking:admin')) {
      throw new ForbiddenException('only a caller holding checking:admin may grant checking:admin');
    }
    const bus = scopes.includes('bus');
    const subscription = request.subscription;
    if (bus && subscription === undefined) {
      throw new BadRequestException(['subscription is required for a client with the bus scope']);
    }
    if (!bus && (request.subscription !== undefined || request.webhook_url !== undefined)) {
      throw new BadRequestException(['subscription and webhook_url are only for clients with the bus scope']);
    }
    if (request.webhook_url !== undefined) await this.webhookUrls.check(request.webhook_url);

    const clientSecret = generateClientSecret();
    const webhook = request.webhook_url !== undefined ? this.webhookSecrets.issue(request.client_id) : undefined;
    try {
      const client = await this.clients.insert(
        {
          clientId: request.client_id,
          clientName: request.client_name,
          subscription: subscription ?? '',
          webhookUrl: request.webhook_url ?? null,
          webhookEnabled: true,
          webhookSecretCiphertext: webhook?.sealed ?? null,
          secretHash: await hashClientSecret(clientSecret),
          scopes: formatScopes(scopes),
        },
        async () => {
          if (subscription !== undefined) await this.createBrokerObjects(request.client_id, subscription);
        },
      );
      return { client, clientSecret, webhookSecret: webhook?.secret };
    } catch (error) {
      if (error instanceof ClientExistsError) throw new ConflictException(error.message);
      throw error;
    }
  }

  /** Runs while the new id is still reserved by the open transaction, so cleaning up cannot hit another client's queues. */
  private async createBrokerObjects(clientId: string, subscription: string): Promise<void> {
    try {
      await this.brokerObjects.create(clientId, subscription);
    } catch (error) {
      await this.brokerObjects.remove(clientId).catch(() => undefined);
      throw error;
    }
  }
}
