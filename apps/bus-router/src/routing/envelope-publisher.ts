import { Injectable, Logger } from '@nestjs/common';
import type { Options } from 'amqplib';
import type { BusEnvelope } from '@purple/contracts';
import { backoffDelay, pause } from '@purple/platform';
import { SOAR_EXCHANGES } from '@purple/topology';
import { ACK, Delivery, Disposition, RELEASE } from '@purple/messaging';
import { BusRouterEnv } from '../config';
import { isRefusal, parkedOptions } from './parked-copy';

/**
 * Delivers an envelope, persistent, to each destination inbox separately (soar-direct, routed by client id), on the
 * channel its source message came from, and answers `ack` once every copy is either confirmed or parked.
 *
 * One publish per inbox is what keeps a full inbox to itself: a publish routed to several queues is nacked as a
 * whole when one of them is full, so retrying it would copy the message again into all the others. Here a refused
 * copy is parked in the retry queue (soar-retry), where the router retries it with backoff until
 * ROUTER_INBOX_FULL_RETRY_MS has passed, then dead-letters it to that client with the reason `inbox full`. The
 * source message is acked meanwhile, so the sender's later messages keep flowing.
 *
 * Every copy is published before the first wait, so each inbox receives one sender's messages in order (a parked
 * copy arrives later than the ones behind it). If the channel closes before everything is confirmed, the source
 * message is released and forwarded again: an inbox may then hold a copy twice (receivers drop it by message_id).
 */
@Injectable()
export class EnvelopePublisher {
  private readonly logger = new Logger('EnvelopePublisher');

  constructor(private readonly config: BusRouterEnv) {}

  async deliver(delivery: Delivery, destinations: string[], envelope: BusEnvelope): Promise<Disposition> {
    const content = Buffer.from(JSON.stringify(envelope));
    const options = this.publishOptions(delivery, envelope);
    const outcomes = await Promise.allSettled(destinations.map((to) => delivery.publish(SOAR_EXCHANGES.direct, to, content, options)));
    const refusedBy: string[] = [];
    for (const [i, outcome] of outcomes.entries()) {
      if (outcome.status === 'fulfilled') continue;
      // a closed channel: nothing more can be confirmed on it, the source message comes back
      if (!isRefusal(outcome.reason)) return RELEASE;
      refusedBy.push(destinations[i]);
    }
    if (refusedBy.length === 0) return ACK;
    this.logger.debug(`${refusedBy.join(', ')} refused ${envelope.message_id} (inbox full); retrying for up to ${this.config.ROUTER_INBOX_FULL_RETRY_MS} ms`);
    return this.park(delivery, refusedBy, content, options);
  }

  /** Parks one copy per refusing inbox in the retry queue; a refusal there (it is full too) is retried with backoff. */
  private async park(delivery: Delivery, destinations: string[], content: Buffer, options: Options.Publish): Promise<Disposition> {
    const now = Date.now();
    const giveUpAt = now + this.config.ROUTER_INBOX_FULL_RETRY_MS;
    let waiting = destinations;
    for (let attempt = 0; !delivery.signal.aborted; attempt++) {
      const retryAt = Math.min(Date.now() + backoffDelay(0, this.config.ROUTER_RETRY_BASE_MS, this.config.ROUTER_RETRY_MAX_MS), giveUpAt);
      const outcomes = await Promise.allSettled(
        waiting.map((destination) =>
          delivery.publish(SOAR_EXCHANGES.retry, destination, content, parkedOptions(options, { destination, attempts: 1, retryAt, giveUpAt })),
        ),
      );
      if (outcomes.some((o) => o.status === 'rejected' && !isRefusal(o.reason))) return RELEASE;
      waiting = waiting.filter((_, i) => outcomes[i].status === 'rejected');
      if (waiting.length === 0) return ACK;
      const delay = backoffDelay(attempt, this.config.ROUTER_RETRY_BASE_MS, this.config.ROUTER_RETRY_MAX_MS);
      this.logger.warn(`the retry queue refused copies for ${waiting.join(', ')}; retrying in ${delay} ms`);
      await pause(delay, delivery.signal);
    }
    return RELEASE;
  }

  private publishOptions(delivery: Delivery, envelope: BusEnvelope): Options.Publish {
    return {
      persistent: true,
      contentType: 'application/json',
      messageId: envelope.message_id,
      correlationId: delivery.message.properties.correlationId,
      timestamp: Math.floor(Date.parse(envelope.sent_at) / 1000),
      appId: 'bus-router',
      headers: { 'x-sender': envelope.sender },
    };
  }
}
