import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { RECEIVE_DEDUPE_WINDOW_HOURS } from '@purple/contracts';
import { DatabaseConnector } from '@purple/persistence';
import type { DeliveredEnvelope } from '../broker/inbox-envelope';
import { DeliveredMessageRepository } from './delivered-message.repository';

const PURGE_EVERY_MS = 10 * 60_000;
const UNAVAILABLE = 'cannot check for duplicates: the database is unavailable; try again later';

/**
 * Drops what a client was already handed: the same message_id again within RECEIVE_DEDUPE_WINDOW_HOURS (a copy the
 * router or the api published twice), on any api replica. An id is remembered once the client has it (the response
 * or frame was written) and before the inbox message is acked: a crash in between hands it out again rather than
 * losing it. Two readers of one inbox at the same instant (two replicas) could each get one of two copies.
 */
@Injectable()
export class ReceiverDedupe {
  private readonly logger = new Logger('ReceiverDedupe');
  private lastPurge = 0;

  constructor(
    private readonly delivered: DeliveredMessageRepository,
    private readonly database: DatabaseConnector,
  ) {}

  /**
   * @throws ServiceUnavailableException while the database's gate is closed: a read then takes nothing from the
   * inbox, so an outage does not count deliveries against the inbox's delivery limit (the connector reopens the
   * gate once PostgreSQL answers again)
   */
  assertAvailable(): void {
    if (!this.database.gate.isOpen) throw new ServiceUnavailableException(UNAVAILABLE);
  }

  /**
   * The envelopes the client has not had yet, first copy of each, in order.
   * @throws ServiceUnavailableException while PostgreSQL does not answer: nothing is handed out unchecked
   */
  async unseen(clientId: string, envelopes: DeliveredEnvelope[]): Promise<DeliveredEnvelope[]> {
    this.purgeNowAndThen();
    let seen: Set<string>;
    try {
      seen = await this.delivered.findDelivered(clientId, envelopes.map((e) => e.message_id), RECEIVE_DEDUPE_WINDOW_HOURS);
    } catch (error) {
      // the driver's message names hosts, ports and users: the log gets it, never the caller
      this.logger.warn(`cannot check ${clientId}'s messages for duplicates: ${(error as Error).message.split('\n')[0]}`);
      this.database.gate.close('the receiver dedupe could not reach PostgreSQL');
      throw new ServiceUnavailableException(UNAVAILABLE);
    }
    return envelopes.filter((envelope) => {
      const id = envelope.message_id;
      if (seen.has(id)) return false;
      seen.add(id);
      return true;
    });
  }

  /** Remembers what the client now has; a failure is logged, and the worst outcome is a duplicate later. */
  async remember(clientId: string, envelopes: DeliveredEnvelope[]): Promise<void> {
    await this.delivered
      .recordDelivered(clientId, envelopes.map((e) => e.message_id))
      .catch((error: Error) => this.logger.warn(`could not record messages delivered to ${clientId}: ${error.message}`));
  }

  private purgeNowAndThen(): void {
    if (Date.now() - this.lastPurge < PURGE_EVERY_MS) return;
    this.lastPurge = Date.now();
    this.delivered.deleteExpired(RECEIVE_DEDUPE_WINDOW_HOURS).catch((error: Error) => this.logger.warn(`deleting expired delivery records failed: ${error.message}`));
  }
}
