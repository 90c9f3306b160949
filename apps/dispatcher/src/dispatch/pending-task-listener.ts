import { Logger } from '@nestjs/common';
import { Client } from 'pg';
import { systemClock } from '@purple/detection';
import { backoffDelay } from '@purple/platform';

/** The trigger of migration 1763800001000 NOTIFYs this channel whenever a task becomes pending. */
export const PENDING_TASK_CHANNEL = 'detection_task_pending';

/**
 * LISTENs for pending tasks on a dedicated PostgreSQL connection (a pooled one would drop the LISTEN when it is
 * returned), reconnecting with backoff when the connection is lost. Each notification, and each (re)connection
 * (notifications sent meanwhile are lost), calls `onWake`.
 */
export class PendingTaskListener {
  private readonly logger = new Logger('PendingTaskListener');
  private stopped = false;
  private client?: Client;
  private readonly stopping = new AbortController();
  private loop?: Promise<void>;

  constructor(
    private readonly databaseUrl: string,
    private readonly onWake: () => void,
  ) {}

  start(): void {
    this.loop = this.listenUntilStopped();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await this.client?.end().catch(() => undefined);
    await this.loop;
  }

  private async listenUntilStopped(): Promise<void> {
    for (let failures = 0; !this.stopped; ) {
      const client = new Client({ connectionString: this.databaseUrl, keepAlive: true, connectionTimeoutMillis: 5000 });
      const lost = new Promise<Error | undefined>((resolve) => {
        client.on('error', resolve);
        client.on('end', () => resolve(undefined));
      });
      client.on('notification', (notification) => {
        if (notification.channel === PENDING_TASK_CHANNEL) this.onWake();
      });
      this.client = client;
      try {
        await client.connect();
        await client.query(`LISTEN ${PENDING_TASK_CHANNEL}`);
        if (failures > 0) this.logger.log('listening for pending tasks again');
        failures = 0;
        this.onWake();
        const error = await lost;
        if (this.stopped) break;
        this.logger.warn(`lost the LISTEN connection (${error?.message ?? 'closed'}); reconnecting`);
      } catch (error) {
        if (this.stopped) break;
        failures += 1;
        this.logger.warn(`cannot LISTEN for pending tasks (${(error as Error).message}); the sweep still dispatches`);
      }
      await client.end().catch(() => undefined);
      await systemClock.sleep(backoffDelay(failures, 500, 30_000), this.stopping.signal).catch(() => undefined);
    }
  }
}
