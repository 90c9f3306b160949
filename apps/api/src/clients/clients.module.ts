import { Module } from '@nestjs/common';
import { AuthModule } from '@purple/auth';
import { ClientBrokerObjects } from './client-broker-objects';
import { ClientRepository } from './client.repository';
import { ClientsController } from './clients.controller';
import { CreateClientUseCase } from './create-client.use-case';
import { DeleteClientUseCase } from './delete-client.use-case';
import { GetClientUseCase } from './get-client.use-case';
import { ListClientsUseCase } from './list-clients.use-case';
import { ResealWebhookSecretsUseCase } from './reseal-webhook-secrets.use-case';
import { RotateClientSecretUseCase } from './rotate-client-secret.use-case';
import { UpdateClientUseCase } from './update-client.use-case';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookUrlPolicy } from './webhook-url-policy';

/** The client registry: clients in PostgreSQL, their queues on the broker. */
@Module({
  imports: [AuthModule],
  controllers: [ClientsController],
  providers: [
    ClientRepository,
    ClientBrokerObjects,
    WebhookUrlPolicy,
    WebhookSecrets,
    CreateClientUseCase,
    ListClientsUseCase,
    GetClientUseCase,
    UpdateClientUseCase,
    DeleteClientUseCase,
    RotateClientSecretUseCase,
    ResealWebhookSecretsUseCase,
  ],
  exports: [ClientRepository, ResealWebhookSecretsUseCase],
})
export class ClientsModule {}
