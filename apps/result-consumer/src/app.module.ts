import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';

@Module({})
export class ResultConsumerModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: ResultConsumerModule,
      imports: [PlatformModule.forApp('result-consumer', env), PersistenceModule.forRoot(), MessagingModule.forApp('result-consumer')],
    };
  }
}
