import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module';
import { PushModule } from '../push/push.module';
import { RoutingModule } from '../routing/routing.module';
import { ClientRouter } from './client-router';
import { RetryQueueRunner } from './retry-queue-runner';
import { RouterLifecycle } from './router-lifecycle';

/** Which consumers run, per client, as bus_client changes. */
@Module({
  imports: [ClientsModule, RoutingModule, PushModule],
  providers: [ClientRouter, RetryQueueRunner, RouterLifecycle],
  exports: [ClientRouter],
})
export class RouterModule {}
