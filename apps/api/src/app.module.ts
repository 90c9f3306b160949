import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';

@Module({})
export class ApiModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: ApiModule,
      imports: [PlatformModule.forApp('api', env), PersistenceModule.forRoot(), MessagingModule.forApp('api')],
    };
  }
}
