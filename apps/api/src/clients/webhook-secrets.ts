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

  /** a new secret for `clientId`, and the secret sealed to that client (it opens for no other) */
  issue(clientId: string): { secret: string; sealed: string } {
    const secret = generateWebhookSecret();
    return { secret, sealed: this.box.seal(secret, clientId) };
  }

  /** A secret sealed the old way (v1), sealed again with the current format; undefined when it is current already. */
  reseal(clientId: string, sealed: string): string | undefined {
    if (SecretBox.isCurrent(sealed)) return undefined;
    return this.box.seal(this.box.open(sealed, clientId), clientId);
  }
}
