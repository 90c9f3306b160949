import { Injectable } from '@nestjs/common';
import { generateWebhookSecret } from '@purple/bus';
import { SecretBox } from '@purple/platform';
import { ApiEnv } from '../config/api-env';

/**
 * Standard Webhooks signing secrets (`whsec_…`). Each delivery is signed with it, so it is stored recoverably:
 * encrypted with WEBHOOK_SECRET_KEY, which the bus-router holds too. The plain secret is shown to the client once.
 */
@Injectable()
export class WebhookSecrets {
  private readonly box: SecretBox;

  constructor(env: ApiEnv) {
    this.box = new SecretBox(env.WEBHOOK_SECRET_KEY);
  }

  issue(): { secret: string; sealed: string } {
    const secret = generateWebhookSecret();
    return { secret, sealed: this.box.seal(secret) };
  }
}
