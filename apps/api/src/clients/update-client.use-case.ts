import { BadRequestException, Injectable, NotFoundException } from '@nestjs/common';
import { BusClientEntity } from '@purple/persistence';
import { ClientBrokerObjects } from './client-broker-objects';
import { isBusClient } from './client-view';
import { ClientChanges, ClientRepository } from './client.repository';
import { UpdateClientRequest } from './clients.dto';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookUrlPolicy } from './webhook-url-policy';

export interface UpdatedClient {
  client: BusClientEntity;
  /** the new webhook signing secret when the URL changed, shown once */
  webhookSecret?: string;
}

/**
 * `PATCH /clients/{id}`: renames, rebinds the inbox to a new subscription, replaces the webhook URL (with a new
 * signing secret) or removes it, or switches pushing on or off.
 */
@Injectable()
export class UpdateClientUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly brokerObjects: ClientBrokerObjects,
    private readonly webhookUrls: WebhookUrlPolicy,
    private readonly webhookSecrets: WebhookSecrets,
  ) {}

  async execute(clientId: string, request: UpdateClientRequest): Promise<UpdatedClient> {
    const { client_name, subscription, webhook_url, webhook_enabled } = request;
    if ([client_name, subscription, webhook_url, webhook_enabled].every((value) => value === undefined)) {
      throw new BadRequestException(['nothing to change: give client_name, subscription, webhook_url or webhook_enabled']);
    }
    if (typeof webhook_url === 'string') await this.webhookUrls.check(webhook_url);

    let webhookSecret: string | undefined;
    const client = await this.clients.update(clientId, async (current) => {
      if (!isBusClient(current) && (subscription !== undefined || webhook_url !== undefined || webhook_enabled !== undefined)) {
        throw new BadRequestException(['subscription and webhooks are only for clients with the bus scope']);
      }
      const changes: ClientChanges = {};
      if (client_name !== undefined) changes.clientName = client_name;
      if (webhook_enabled !== undefined) changes.webhookEnabled = webhook_enabled;
      if (webhook_url === null) {
        changes.webhookUrl = null;
        changes.webhookSecretCiphertext = null;
      } else if (webhook_url !== undefined) {
        const issued = this.webhookSecrets.issue(clientId);
        webhookSecret = issued.secret;
        changes.webhookUrl = webhook_url;
        changes.webhookSecretCiphertext = issued.sealed;
        // a new URL is a fresh start, also after the router disabled the old one for answering 410
        changes.webhookEnabled = webhook_enabled ?? true;
      }
      // the broker last: everything that could still refuse the change has been decided
      if (subscription !== undefined && subscription !== current.subscription) {
        await this.brokerObjects.rebind(clientId, current.subscription, subscription);
        changes.subscription = subscription;
      }
      return changes;
    });
    if (!client) throw new NotFoundException(`no client ${clientId}`);
    return { client, webhookSecret };
  }
}
