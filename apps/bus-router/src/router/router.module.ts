import { Module } from '@nestjs/common';
import { ClientsModule } from '../clients/clients.module';
import { PushModule } from '../push/push.module';
import { RoutingModule } from '../routing/routing.module';
import { ClientRouter } from './client-router';
import { RouterLifecycle } from './router-lifecycle';

/** Which consumers run, per client, as bus_client changes. */
@Module({
  imports: [ClientsModule, RoutingModule, PushModule],
  providers: [ClientRouter, RouterLifecycle],
  exports: [ClientRouter],
})
export class RouterModule {}
