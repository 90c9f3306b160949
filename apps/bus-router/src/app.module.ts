import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';

@Module({})
export class BusRouterModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: BusRouterModule,
      imports: [PlatformModule.forApp('bus-router', env), PersistenceModule.forRoot(), MessagingModule.forApp('bus-router')],
    };
  }
}
