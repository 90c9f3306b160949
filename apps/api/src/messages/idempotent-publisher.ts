import { BadRequestException, Injectable, Logger, UnprocessableEntityException } from '@nestjs/common';
import { createHash, randomUUID } from 'node:crypto';
import { IDEMPOTENCY_KEY_HEADER, IDEMPOTENCY_WINDOW_HOURS, isValidIdempotencyKey } from '@purple/contracts';
import { ConfirmedPublisher } from '@purple/messaging';
import { IdempotencyKeyRepository } from './idempotency-key.repository';
import { SendQuota } from './send-quota';

/** Expired keys are deleted at most this often (they are also replaced in place when reused). */
const PURGE_EVERY_MS = 10 * 60_000;

/**
 * Publishes a client's send or notify, once per idempotency key. Without a key it publishes as before. With one,
 * the key's record is locked in PostgreSQL while publishing, so concurrent requests with one key publish once,
 * whichever api replica they reach. A retry after a confirmed publish gets the same message_id and publishes
 * nothing; a retry after a failed or unconfirmed one publishes again under the same message_id, so if the first
 * did reach the broker, receivers see one message_id twice and drop the second.
 */
@Injectable()
export class IdempotentPublisher {
  private readonly logger = new Logger('IdempotentPublisher');
  private lastPurge = 0;

  constructor(
    private readonly publisher: ConfirmedPublisher,
    private readonly keys: IdempotencyKeyRepository,
    private readonly quota: SendQuota,
  ) {}

  async publish(senderId: string, key: string | undefined, exchange: string, body: object, correlationId?: string): Promise<string> {
    if (key === undefined) return this.publishWithinQuota(senderId, exchange, body, correlationId);
    if (!isValidIdempotencyKey(key)) throw new BadRequestException([`${IDEMPOTENCY_KEY_HEADER} must be 1 to 255 visible ASCII characters`]);
    this.purgeNowAndThen();
    const requestFingerprint = fingerprintOf(exchange, body);
    return this.keys.withLockedKey(senderId, key, { requestFingerprint, messageId: randomUUID() }, IDEMPOTENCY_WINDOW_HOURS, async (record) => {
      if (record.requestFingerprint !== requestFingerprint) {
        throw new UnprocessableEntityException([`this ${IDEMPOTENCY_KEY_HEADER} was used for a different request within the last ${IDEMPOTENCY_WINDOW_HOURS} h`]);
      }
      if (!record.published) await this.publishWithinQuota(senderId, exchange, body, correlationId, record.messageId);
      return { result: record.messageId, published: true };
    });
  }

  /** A retry of a message already published uses no quota: only what reaches the broker counts. */
  private async publishWithinQuota(senderId: string, exchange: string, body: object, correlationId?: string, messageId?: string): Promise<string> {
    const release = this.quota.acquire(senderId, Buffer.byteLength(JSON.stringify(body)));
    try {
      return await this.publisher.publish(exchange, senderId, body, { correlationId, messageId });
    } finally {
      release();
    }
  }

  private purgeNowAndThen(): void {
    if (Date.now() - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = Date.now();
    this.keys.deleteExpired(IDEMPOTENCY_WINDOW_HOURS).catch((error: Error) => this.logger.warn(`deleting expired idempotency keys failed: ${error.message}`));
  }
}

/** Which operation, with which content: the same key with another request is refused, not answered wrongly. */
function fingerprintOf(exchange: string, body: object): string {
  return createHash('sha256').update(exchange).update('\n').update(JSON.stringify(body)).digest('hex');
}
