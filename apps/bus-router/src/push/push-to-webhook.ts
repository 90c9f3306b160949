import { Inject, Injectable, Logger } from '@nestjs/common';
import { BusEnvelope, parseJsonMessage } from '@purple/contracts';
import { webhookHeaders } from '@purple/bus';
import { backoffDelay, counter, pause } from '@purple/platform';
import { BusClientRepository } from '../clients/bus-client.repository';
import { BusRouterEnv } from '../config';
import { ACK, Delivery, Disposition, RELEASE, deadLetter } from '@purple/messaging';
import { WebhookResponse, WebhookSender, WebhookTransport } from './webhook-sender';

const webhookDeliveries = counter('purple_webhook_deliveries_total', 'Webhook delivery attempts by outcome', ['outcome']);

/** Where a client's inbox is pushed to; read again at every attempt, so a changed URL or secret applies at once. */
export interface WebhookTarget {
  clientId: string;
  url: string;
  /** the `whsec_…` signing secret, opened */
  secret: string;
}

/**
 * The seed's unimplemented soar_push: POSTs one inbox message to the client's webhook, signed per Standard
 * Webhooks. A 2xx acks. Anything else is retried with exponential backoff and jitter while the message stays
 * unacked (a crash loses nothing, and prefetch 1 keeps the inbox in order); after the last attempt the message goes
 * to the client's dead-letter queue with the reason. A 410 Gone disables the webhook and returns the message to the
 * inbox, for /receive.
 */
@Injectable()
export class PushToWebhook {
  private readonly logger = new Logger('Push');

  constructor(
    @Inject(WebhookSender) private readonly transport: WebhookTransport,
    private readonly clients: BusClientRepository,
    private readonly config: BusRouterEnv,
  ) {}

  async execute(target: () => WebhookTarget, delivery: Delivery): Promise<Disposition> {
    const envelope = parseJsonMessage(BusEnvelope, delivery.message.content);
    if (!envelope.ok) return deadLetter(`invalid envelope: ${envelope.errors.join('; ')}`);
    const messageId = envelope.value.message_id;
    const attempts = this.config.WEBHOOK_MAX_ATTEMPTS;

    let failure = '';
    for (let attempt = 1; attempt <= attempts; attempt++) {
      if (delivery.signal.aborted) return RELEASE;
      const { clientId, url, secret } = target();
      // the exact bytes in the inbox are the body, so the signature covers what the receiver reads
      const body = delivery.message.content;
      const response = await this.transport.post({ url, body, headers: webhookHeaders(secret, messageId, body) });

      if (response.outcome === 'answered' && response.status >= 200 && response.status < 300) {
        webhookDeliveries.inc({ outcome: 'delivered' });
        return ACK;
      }
      if (response.outcome === 'answered' && response.status === 410) {
        try {
          await this.clients.disableWebhook(clientId);
          this.logger.warn(`webhook of ${clientId} answered 410 Gone: disabled; its messages stay in its inbox`);
          webhookDeliveries.inc({ outcome: 'disabled' });
          return { action: 'requeue-and-stop' };
        } catch (error) {
          failure = `HTTP 410 Gone, but disabling the webhook failed: ${(error as Error).message}`;
        }
      } else {
        failure = describeFailure(response);
      }

      if (attempt < attempts) {
        const delay = backoffDelay(attempt - 1, this.config.WEBHOOK_BACKOFF_BASE_MS, this.config.WEBHOOK_BACKOFF_MAX_MS);
        this.logger.warn(`webhook of ${clientId}, message ${messageId}, attempt ${attempt}/${attempts}: ${failure}; retrying in ${delay} ms`);
        webhookDeliveries.inc({ outcome: 'retried' });
        if (!(await pause(delay, delivery.signal))) return RELEASE;
      }
    }
    webhookDeliveries.inc({ outcome: 'dead_lettered' });
    return deadLetter(`webhook delivery failed after ${attempts} attempts: ${failure}`);
  }
}

function describeFailure(response: WebhookResponse): string {
  switch (response.outcome) {
    case 'answered':
      return response.status >= 300 && response.status < 400
        ? `HTTP ${response.status} (redirects are not followed)`
        : `HTTP ${response.status}`;
    case 'timed-out':
      return 'timed out';
    case 'refused':
      return `refused: ${response.reason}`;
    case 'failed':
      return `no answer: ${response.reason}`;
  }
}
