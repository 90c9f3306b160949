import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';
import { BusRouterConfigModule, loadBusRouterEnv } from './config';
import { RouterModule } from './router/router.module';

@Module({})
export class BusRouterModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: BusRouterModule,
      imports: [
        PlatformModule.forApp('bus-router', env),
        BusRouterConfigModule.forRoot(loadBusRouterEnv(env)),
        PersistenceModule.forRoot('bus-router', env),
        MessagingModule.forApp('bus-router'),
        RouterModule,
      ],
    };
  }
}
