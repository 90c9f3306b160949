import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule } from '@purple/platform';

@Module({})
export class AgentWorkerModule {
  static register(env: CommonEnv): DynamicModule {
    return {
      module: AgentWorkerModule,
      imports: [PlatformModule.forApp('agent-worker', env), PersistenceModule.forRoot(), MessagingModule.forApp('agent-worker')],
    };
  }
}
