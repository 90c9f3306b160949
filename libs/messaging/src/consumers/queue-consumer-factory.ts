import { Injectable } from '@nestjs/common';
import { BrokerConnectionSource } from './broker-connection-source';
import { DeliveryHandler } from './delivery';
import { QueueConsumer, QueueConsumerOptions } from './queue-consumer';

/** A running consumer of one queue, as the router starts and stops them. */
export interface ConsumerHandle {
  start(): void;
  stop(): Promise<void>;
  readonly stopped: boolean;
}

/** Makes consumers; a separate seam so the router's bookkeeping is testable without a broker. */
export abstract class ConsumerFactory {
  abstract create(options: QueueConsumerOptions, handler: DeliveryHandler): ConsumerHandle;
}

@Injectable()
export class QueueConsumerFactory extends ConsumerFactory {
  constructor(private readonly source: BrokerConnectionSource) {
    super();
  }

  create(options: QueueConsumerOptions, handler: DeliveryHandler): ConsumerHandle {
    return new QueueConsumer(this.source, options, handler);
  }
}
