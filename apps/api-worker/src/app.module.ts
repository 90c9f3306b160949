import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';

@Module({})
export class ApiWorkerModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: ApiWorkerModule,
      imports: [PlatformModule.forApp('api-worker', env), PersistenceModule.forRoot(), MessagingModule.forApp('api-worker')],
    };
  }
}
