import { Injectable } from '@nestjs/common';
import { SecretBox } from '@purple/platform';
import { BusRouterEnv } from '../config';

/** Opens the webhook signing secrets the api stored sealed with WEBHOOK_SECRET_KEY. */
@Injectable()
export class WebhookSecrets {
  private readonly box: SecretBox;

  constructor(config: BusRouterEnv) {
    this.box = new SecretBox(config.WEBHOOK_SECRET_KEY);
  }

  /** The secret, or undefined when there is none or it cannot be opened with this key for this client. */
  open(ciphertext: string | null, clientId: string): string | undefined {
    if (!ciphertext) return undefined;
    try {
      return this.box.open(ciphertext, clientId);
    } catch {
      return undefined;
    }
  }
}
