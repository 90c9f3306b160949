import { DynamicModule, Module } from '@nestjs/common';
import { CheckingModule } from '@purple/checking';
import { CalderaConsumerEnv } from '../config';
import { InstructionsConsumer } from './instructions.consumer';

/** Consumes `caldera.checking.instructions` into operations, executions and pending detection tasks. */
@Module({})
export class IngestModule {
  static register(config: CalderaConsumerEnv): DynamicModule {
    return {
      module: IngestModule,
      imports: [CheckingModule],
      providers: [{ provide: CalderaConsumerEnv, useValue: config }, InstructionsConsumer],
    };
  }
}
