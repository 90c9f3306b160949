import { Injectable } from '@nestjs/common';
import { setMaxListeners } from 'node:events';
import { SOAR_EXCHANGES, SOAR_RETRY_QUEUE } from '@purple/topology';
import { BusRouterEnv } from '../config';
import { ConsumerFactory, ConsumerHandle } from '@purple/messaging';
import { RetryParkedCopy } from '../routing/retry-parked-copy';

/**
 * Copies held at once, each waiting for its next attempt (at most ROUTER_RETRY_MAX_MS): enough that a few thousand
 * parked copies all get their turns within the retry window, few enough to hold in memory.
 */
const PARKED_COPIES_IN_HAND = 500;

/** Consumes the retry queue shared by every router replica: copies that full inboxes refused. */
@Injectable()
export class RetryQueueRunner {
  private consumer?: ConsumerHandle;

  constructor(
    private readonly consumers: ConsumerFactory,
    private readonly retry: RetryParkedCopy,
    private readonly config: BusRouterEnv,
  ) {}

  start(): void {
    this.consumer ??= this.consumers.create(
      {
        queue: SOAR_RETRY_QUEUE,
        prefetch: PARKED_COPIES_IN_HAND,
        // what cannot be a parked copy goes to the retry queue's own dead-letter queue
        deadLetterExchange: SOAR_EXCHANGES.dlx,
        deadLetterRoutingKey: SOAR_RETRY_QUEUE,
        retryBaseMs: this.config.ROUTER_RETRY_BASE_MS,
        retryMaxMs: this.config.ROUTER_RETRY_MAX_MS,
      },
      (delivery) => {
        // every copy in hand waits on its channel's signal: that many listeners are expected, not a leak
        setMaxListeners(PARKED_COPIES_IN_HAND + 10, delivery.signal);
        return this.retry.execute(delivery);
      },
    );
    this.consumer.start();
  }

  async stop(): Promise<void> {
    await this.consumer?.stop();
  }
}
