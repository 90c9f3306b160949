import { Injectable, Logger } from '@nestjs/common';
import { SecretBox } from '@purple/platform';
import { ClientRepository } from './client.repository';
import { WebhookSecrets } from './webhook-secrets';

/**
 * The migration path to sealed-secret format v2: every webhook secret still sealed as v1 is opened and sealed again
 * (HKDF key, bound to its client id), row by row under the row's lock. Run at start; a no-op once all are v2. A
 * secret that cannot be opened (another WEBHOOK_SECRET_KEY) is left as it is and reported.
 */
@Injectable()
export class ResealWebhookSecretsUseCase {
  private readonly logger = new Logger('WebhookSecrets');

  constructor(
    private readonly clients: ClientRepository,
    private readonly secrets: WebhookSecrets,
  ) {}

  /** @returns how many were sealed again */
  async execute(): Promise<number> {
    let resealed = 0;
    for (const client of await this.clients.list()) {
      if (!client.webhookSecretCiphertext || SecretBox.isCurrent(client.webhookSecretCiphertext)) continue;
      await this.clients.update(client.clientId, async (current) => {
        if (!current.webhookSecretCiphertext) return {};
        try {
          const sealed = this.secrets.reseal(current.clientId, current.webhookSecretCiphertext);
          if (!sealed) return {};
          resealed++;
          return { webhookSecretCiphertext: sealed };
        } catch {
          this.logger.warn(`the webhook secret of ${current.clientId} cannot be opened with WEBHOOK_SECRET_KEY; left as it is`);
          return {};
        }
      });
    }
    if (resealed > 0) this.logger.log(`sealed ${resealed} webhook secret(s) again in format v2`);
    return resealed;
  }
}
