import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule, loadConfig } from '@purple/platform';
import { CalderaBridgeEnv } from './bridge-env';
import { BridgeModule } from './bridge/bridge.module';

@Module({})
export class CalderaBridgeModule {
  static register(env: CommonEnv): DynamicModule {
    const config = loadConfig(CalderaBridgeEnv, env.source ?? process.env);
    return {
      module: CalderaBridgeModule,
      imports: [
        PlatformModule.forApp('caldera-bridge', config),
        PersistenceModule.forRoot('caldera-bridge', env),
        MessagingModule.forApp('caldera-bridge'),
        BridgeModule.register(config),
      ],
    };
  }
}
