import { BadRequestException, Injectable } from '@nestjs/common';
import { DeliverableUrlOptions, UndeliverableUrlError, assertDeliverableUrl, splitAllowlist } from '@purple/bus';
import { ApiEnv } from '../config/api-env';

/**
 * Which webhook URLs a client may register: http(s), no credentials, and only public addresses unless an operator
 * allows private ones or allowlists them (WEBHOOK_ALLOW_PRIVATE, WEBHOOK_ALLOWLIST; the same rule and variables as
 * the bus-router, which checks again at every delivery).
 */
@Injectable()
export class WebhookUrlPolicy {
  private readonly options: DeliverableUrlOptions;

  constructor(env: ApiEnv) {
    this.options = { allowPrivate: env.WEBHOOK_ALLOW_PRIVATE === 'true', allowlist: splitAllowlist(env.WEBHOOK_ALLOWLIST) };
  }

  /** @throws BadRequestException with the reason */
  async check(url: string): Promise<void> {
    try {
      await assertDeliverableUrl(url, this.options);
    } catch (error) {
      if (error instanceof UndeliverableUrlError) throw new BadRequestException([`webhook_url: ${error.message}`]);
      throw error;
    }
  }
}
