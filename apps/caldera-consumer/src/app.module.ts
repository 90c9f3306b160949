import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';

@Module({})
export class CalderaConsumerModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: CalderaConsumerModule,
      imports: [PlatformModule.forApp('caldera-consumer', env), PersistenceModule.forRoot(), MessagingModule.forApp('caldera-consumer')],
    };
  }
}
