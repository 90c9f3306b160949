import { Module } from '@nestjs/common';
import { BrokerConnectionSource } from './broker-connection-source';
import { ConsumerFactory, QueueConsumerFactory } from './queue-consumer-factory';

/** Queue consumers started and stopped at run time, on the app's one broker connection. */
@Module({
  providers: [BrokerConnectionSource, { provide: ConsumerFactory, useClass: QueueConsumerFactory }],
  exports: [ConsumerFactory],
})
export class ConsumersModule {}
