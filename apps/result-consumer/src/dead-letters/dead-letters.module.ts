import { Module } from '@nestjs/common';
import { CheckingModule } from '@purple/checking';
import { DeadLetterQueuesConsumer } from './dead-letter-queues.consumer';

/** Keeps every dead-lettered checking-engine message in PostgreSQL, for the API to list and replay. */
@Module({ imports: [CheckingModule], providers: [DeadLetterQueuesConsumer] })
export class DeadLettersModule {}
