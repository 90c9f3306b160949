import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DatabaseConnector, DatabaseSettings } from '@purple/persistence';
import { DISPATCH_SETTINGS, DispatchPendingTasks, DispatchSettings, ExpireOverdueTasks } from '@purple/checking/dispatch';
import { PendingTaskListener } from './pending-task-listener';

/**
 * When the dispatcher works: on every NOTIFY of a pending task, when the broker or the database (re)connects, and
 * every sweep interval (the backstop for lost notifications, unsent tasks and deadlines); one run at a time,
 * wake-ups during a run coalescing into one more run.
 * A run first expires overdue tasks (whose retries then dispatch in the same run), then dispatches.
 */
@Injectable()
export class DispatchLoop implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('Dispatcher');
  private readonly listener: PendingTaskListener;
  private sweep?: NodeJS.Timeout;
  private running?: Promise<void>;
  private wokenWhileRunning = false;
  private stopped = false;

  constructor(
    private readonly dispatchPending: DispatchPendingTasks,
    private readonly expireOverdue: ExpireOverdueTasks,
    @Inject(DISPATCH_SETTINGS) private readonly settings: DispatchSettings,
    private readonly amqp: AmqpConnection,
    private readonly database: DatabaseConnector,
    databaseSettings: DatabaseSettings,
  ) {
    this.listener = new PendingTaskListener(databaseSettings.url, () => this.wake());
  }

  onApplicationBootstrap(): void {
    // tasks that became pending while the broker or the database was away go out as soon as both are back
    this.amqp.managedConnection.on('connect', () => this.wake());
    this.database.ready().then(
      () => this.wake(),
      () => undefined,
    );
    this.listener.start();
    this.sweep = setInterval(() => this.wake(), this.settings.sweepMs);
    this.wake();
  }

  /** Lets the run in progress finish (its claims commit or roll back) before the connections close. */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopped = true;
    clearInterval(this.sweep);
    await this.listener.stop();
    await this.running;
  }

  wake(): void {
    if (this.stopped) return;
    if (this.running) {
      this.wokenWhileRunning = true;
      return;
    }
    this.running = this.runUntilQuiet().finally(() => (this.running = undefined));
  }

  private async runUntilQuiet(): Promise<void> {
    do {
      this.wokenWhileRunning = false;
      await this.runOnce();
    } while (this.wokenWhileRunning && !this.stopped);
  }

  private async runOnce(): Promise<void> {
    try {
      await this.expireOverdue.execute();
    } catch (error) {
      this.logger.warn(`expiring overdue tasks failed (${(error as Error).message}); trying again at the next sweep`);
    }
    try {
      await this.dispatchPending.execute();
    } catch (error) {
      this.logger.warn(`dispatching failed (${(error as Error).message}); trying again at the next sweep`);
    }
  }
}
