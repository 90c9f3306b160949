import { Injectable, Logger } from '@nestjs/common';
import { backoffDelay } from '@purple/platform';
import { SOAR_EXCHANGES } from '@purple/topology';
import { BusRouterEnv } from '../config';
import { ACK, Delivery, Disposition, RELEASE, deadLetter } from '@purple/messaging';
import { pause } from '@purple/platform';
import { INBOX_FULL, deliveryOptions, inboxFullDeadLetterOptions, isRefusal, parkedOptions, readParkedCopy } from './parked-copy';

/**
 * One attempt at a copy parked in the retry queue: at its time, it is published to its inbox again. Delivered, it
 * is done. Refused once more, it is parked again with a longer wait, or, past its deadline, dead-lettered to its
 * client with the reason `inbox full`. Each step is confirmed before the parked message is acked, so a crash
 * in between can only repeat a step (the inbox may then hold the copy twice; receivers drop it by message_id).
 */
@Injectable()
export class RetryParkedCopy {
  private readonly logger = new Logger('RetryParkedCopy');

  constructor(private readonly config: BusRouterEnv) {}

  async execute(delivery: Delivery): Promise<Disposition> {
    const { content, properties } = delivery.message;
    const copy = readParkedCopy(properties);
    if (!copy) return deadLetter('not a parked copy: its retry headers are missing or malformed');
    for (let attempt = 0; ; attempt++) {
      if (!(await pause(Math.max(0, copy.retryAt - Date.now()), delivery.signal))) return RELEASE;
      try {
        await delivery.publish(SOAR_EXCHANGES.direct, copy.destination, content, deliveryOptions(properties));
        return ACK;
      } catch (error) {
        if (!isRefusal(error)) return RELEASE;
      }
      const attempts = copy.attempts + 1;
      try {
        if (Date.now() >= copy.giveUpAt) {
          this.logger.warn(`dead-lettering ${properties.messageId} for ${copy.destination}: ${INBOX_FULL} after ${attempts} attempts`);
          await delivery.publish(SOAR_EXCHANGES.dlx, copy.destination, content, inboxFullDeadLetterOptions(properties, { ...copy, attempts }));
        } else {
          const retryAt = Math.min(Date.now() + backoffDelay(attempts - 1, this.config.ROUTER_RETRY_BASE_MS, this.config.ROUTER_RETRY_MAX_MS), copy.giveUpAt);
          // parked again at the back of the queue, so every waiting copy gets its turn
          await delivery.publish(SOAR_EXCHANGES.retry, copy.destination, content, parkedOptions(deliveryOptions(properties), { ...copy, attempts, retryAt }));
        }
        return ACK;
      } catch (error) {
        if (!isRefusal(error)) return RELEASE;
        // the retry or dead-letter queue is full too: keep this copy in hand and try its inbox again later
        copy.attempts = attempts;
        copy.retryAt = Date.now() + backoffDelay(attempt, this.config.ROUTER_RETRY_BASE_MS, this.config.ROUTER_RETRY_MAX_MS);
      }
    }
  }
}
