import { DynamicModule, Global, Module } from '@nestjs/common';
import { MessagingModule } from '@purple/messaging';
import { PersistenceModule } from '@purple/persistence';
import { CommonEnv, PlatformModule, loadConfig } from '@purple/platform';
import { CheckingConsumerEnv, RECHECK_AFTER_SECONDS } from '@purple/checking';
import { DeadLettersModule } from './dead-letters/dead-letters.module';
import { ResultsModule } from './results/results.module';

/** The app's validated configuration, for its feature modules. */
@Global()
@Module({})
class ResultConsumerConfigModule {
  static register(config: CheckingConsumerEnv): DynamicModule {
    return {
      module: ResultConsumerConfigModule,
      providers: [
        { provide: CheckingConsumerEnv, useValue: config },
        { provide: RECHECK_AFTER_SECONDS, useValue: config.DETECTION_RECHECK_AFTER_SECONDS },
      ],
      exports: [CheckingConsumerEnv, RECHECK_AFTER_SECONDS],
    };
  }
}

@Module({})
export class ResultConsumerModule {
  static register(env: CommonEnv): DynamicModule {
    const config = loadConfig(CheckingConsumerEnv, env.source ?? process.env);
    return {
      module: ResultConsumerModule,
      imports: [
        PlatformModule.forApp('result-consumer', config),
        PersistenceModule.forRoot('result-consumer', env),
        MessagingModule.forApp('result-consumer'),
        ResultConsumerConfigModule.register(config),
        ResultsModule,
        DeadLettersModule,
      ],
    };
  }
}
