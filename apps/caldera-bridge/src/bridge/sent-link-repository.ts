import { Injectable } from '@nestjs/common';
import { InjectDataSource, InjectRepository } from '@nestjs/typeorm';
import { CalderaBridgeSentLinkEntity } from '@purple/persistence';
import { DataSource, In, Repository } from 'typeorm';

/** Any 64-bit number unique to this use: the session lock one poll holds, so that two bridges never poll at once. */
export const POLL_LOCK_KEY = 7_310_851_412;

/**
 * The links the bridge has dealt with (`caldera_bridge_sent_link`), and the lock that makes polls take turns
 * (a rolling update briefly runs two bridges; they must not publish the same links side by side).
 */
@Injectable()
export class SentLinkRepository {
  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @InjectRepository(CalderaBridgeSentLinkEntity) private readonly sentLinks: Repository<CalderaBridgeSentLinkEntity>,
  ) {}

  /** false until PostgreSQL is connected (the app connects in the background) */
  get available(): boolean {
    return this.dataSource.isInitialized;
  }

  /**
   * Runs `work` holding the poll lock (a PostgreSQL session advisory lock, released with the session if the bridge
   * dies); undefined, without running it, when another bridge holds it.
   */
  async withPollLock<T>(work: () => Promise<T>): Promise<T | undefined> {
    const session = this.dataSource.createQueryRunner();
    await session.connect();
    try {
      const [{ locked }] = (await session.query('SELECT pg_try_advisory_lock($1) AS locked', [POLL_LOCK_KEY])) as Array<{ locked: boolean }>;
      if (!locked) return undefined;
      try {
        return await work();
      } finally {
        await session.query('SELECT pg_advisory_unlock($1)', [POLL_LOCK_KEY]).catch(() => undefined);
      }
    } finally {
      await session.release();
    }
  }

  /** which of these links are already recorded (published or skipped) */
  async recordedAmong(linkIds: string[]): Promise<Set<string>> {
    if (linkIds.length === 0) return new Set();
    const rows = await this.sentLinks.find({ select: { linkId: true }, where: { linkId: In(linkIds) } });
    return new Set(rows.map((row) => row.linkId));
  }

  /** after the broker's confirm */
  recordPublished(linkId: string, operationId: string): Promise<void> {
    return this.record(linkId, operationId, null);
  }

  /** a link that can never become a valid message, with why, so it is not tried at every poll */
  recordSkipped(linkId: string, operationId: string, reason: string): Promise<void> {
    return this.record(linkId, operationId, reason);
  }

  private async record(linkId: string, operationId: string, skippedReason: string | null): Promise<void> {
    await this.sentLinks
      .createQueryBuilder()
      .insert()
      .values({ linkId, operationId, skippedReason })
      .orIgnore()
      .execute();
  }
}
