import { DynamicModule, Module } from '@nestjs/common';
import { CheckingModule } from '@purple/checking';
import { CheckingConsumerEnv } from '@purple/checking';
import { InstructionsConsumer } from './instructions.consumer';

/** Consumes `caldera.checking.instructions` into operations, executions and pending detection tasks. */
@Module({})
export class IngestModule {
  static register(config: CheckingConsumerEnv): DynamicModule {
    return {
      module: IngestModule,
      imports: [CheckingModule],
      providers: [{ provide: CheckingConsumerEnv, useValue: config }, InstructionsConsumer],
    };
  }
}
