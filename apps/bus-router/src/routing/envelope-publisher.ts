import { Injectable, Logger } from '@nestjs/common';
import type { BusEnvelope } from '@purple/contracts';
import { backoffDelay, pause } from '@purple/platform';
import { BusRouterEnv } from '../config';
import { ACK, Delivery, Disposition, RELEASE } from '@purple/messaging';

/**
 * Publishes an envelope, persistent, on the channel its source message came from, and answers `ack` only once the
 * broker has confirmed it. A refusal (an inbox at its length limit nacks the publish) is retried with backoff
 * rather than dropped, and the source message stays unacked meanwhile. With several messages in flight
 * (ROUTER_PREFETCH), the ones behind it are already published: a full inbox may then receive them before the retried
 * one. A subscriber that did take the message may see it twice; receivers dedupe on message_id.
 */
@Injectable()
export class EnvelopePublisher {
  private readonly logger = new Logger('EnvelopePublisher');

  constructor(private readonly config: BusRouterEnv) {}

  async publish(delivery: Delivery, exchange: string, routingKey: string, envelope: BusEnvelope): Promise<Disposition> {
    const source = delivery.message.properties;
    const content = Buffer.from(JSON.stringify(envelope));
    for (let attempt = 0; !delivery.signal.aborted; attempt++) {
      try {
        await delivery.publish(exchange, routingKey, content, {
          persistent: true,
          contentType: 'application/json',
          messageId: envelope.message_id,
          correlationId: source.correlationId,
          timestamp: Math.floor(Date.parse(envelope.sent_at) / 1000),
          appId: 'bus-router',
          headers: { 'x-sender': envelope.sender },
        });
        return ACK;
      } catch (error) {
        if (delivery.signal.aborted) break;
        const delay = backoffDelay(attempt, this.config.ROUTER_RETRY_BASE_MS, this.config.ROUTER_RETRY_MAX_MS);
        this.logger.warn(`publishing ${envelope.message_id} to ${exchange} failed (${(error as Error).message}); retrying in ${delay} ms`);
        await pause(delay, delivery.signal);
      }
    }
    return RELEASE;
  }
}
