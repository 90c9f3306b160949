import { BeforeApplicationShutdown, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DatabaseConnector } from '@purple/persistence';
import { ClientChangeListener } from '../clients/client-change-listener';
import { BusRouterEnv } from '../config';
import { ClientRouter } from './client-router';
import { RetryQueueRunner } from './retry-queue-runner';

/**
 * Starts routing once PostgreSQL answers: a full sync, then one client at a time as bus_client notifies changes,
 * with a periodic full sync as the backstop for a missed notification. Stops every consumer before the broker and
 * database connections close.
 */
@Injectable()
export class RouterLifecycle implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Router');
  private timer?: NodeJS.Timeout;
  private closing = false;
  private syncing?: Promise<void>;
  private syncAgain = false;

  constructor(
    private readonly router: ClientRouter,
    private readonly changes: ClientChangeListener,
    private readonly database: DatabaseConnector,
    private readonly config: BusRouterEnv,
    private readonly retries: RetryQueueRunner,
  ) {}

  onApplicationBootstrap(): void {
    void this.begin();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.closing = true;
    clearInterval(this.timer);
    await Promise.all([this.router.stopAll(), this.retries.stop()]);
  }

  private async begin(): Promise<void> {
    try {
      await this.database.ready();
    } catch {
      return; // shut down before the database answered
    }
    if (this.closing) return;
    this.changes.start({
      changed: (clientId) => void this.router.sync(clientId),
      listening: () => void this.syncAll(),
    });
    this.timer = setInterval(() => void this.syncAll(), this.config.ROUTER_RECONCILE_INTERVAL_MS);
    await this.syncAll();
    if (!this.closing) this.retries.start();
  }

  /** One full sync at a time; a request during one runs another right after, so nothing between is missed. */
  private async syncAll(): Promise<void> {
    if (this.syncing) {
      this.syncAgain = true;
      return this.syncing;
    }
    this.syncing = (async () => {
      do {
        this.syncAgain = false;
        if (this.closing) return;
        try {
          await this.router.syncAll();
        } catch (error) {
          this.logger.warn(`syncing clients with the database failed: ${(error as Error).message}; retrying later`);
        }
      } while (this.syncAgain);
    })().finally(() => (this.syncing = undefined));
    return this.syncing;
  }
}
