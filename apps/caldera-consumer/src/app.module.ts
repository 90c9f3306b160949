import { DynamicModule, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule, loadConfig } from '@purple/platform';
import { CheckingConsumerEnv } from '@purple/checking';
import { IngestModule } from './ingest/ingest.module';

@Module({})
export class CalderaConsumerModule {
  static register(env: CommonEnv): DynamicModule {
    const config = loadConfig(CheckingConsumerEnv, env.source ?? process.env);
    return {
      module: CalderaConsumerModule,
      imports: [
        PlatformModule.forApp('caldera-consumer', config),
        PersistenceModule.forRoot('caldera-consumer', env),
        MessagingModule.forApp('caldera-consumer'),
        IngestModule.register(config),
      ],
    };
  }
}
