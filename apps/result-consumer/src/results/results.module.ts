import { Module } from '@nestjs/common';
import { CheckingModule } from '@purple/checking';
import { ResponsesConsumer } from './responses.consumer';

/** Consumes the api and agent response queues into detection results and execution verdicts. */
@Module({ imports: [CheckingModule], providers: [ResponsesConsumer] })
export class ResultsModule {}
