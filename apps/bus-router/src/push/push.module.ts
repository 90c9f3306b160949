import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module';
import { PushToWebhook } from './push-to-webhook';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookSender } from './webhook-sender';

/** Inboxes → signed webhooks. */
@Module({
  imports: [ClientsModule],
  providers: [PushToWebhook, WebhookSender, WebhookSecrets],
  exports: [PushToWebhook, WebhookSecrets],
})
export class PushModule {}
