import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, loadConfig, PlatformModule } from '@purple/platform';
import { DispatchModule } from './dispatch/dispatch.module';
import { DispatcherEnv } from './dispatcher-env';

@Module({})
export class DispatcherModule {
  static register(env: CommonEnv): DynamicModule {
    const config = loadConfig(DispatcherEnv, env.source ?? process.env);
    return {
      module: DispatcherModule,
      imports: [
        PlatformModule.forApp('dispatcher', env),
        PersistenceModule.forRoot('dispatcher', env),
        MessagingModule.forApp('dispatcher'),
        DispatchModule.register(config),
      ],
    };
  }
}
