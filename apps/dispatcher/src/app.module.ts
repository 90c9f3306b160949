import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';

@Module({})
export class DispatcherModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: DispatcherModule,
      imports: [PlatformModule.forApp('dispatcher', env), PersistenceModule.forRoot(), MessagingModule.forApp('dispatcher')],
    };
  }
}
