import { AmqpConnection } from '@golevelup/nestjs-rabbitmq';
import { BeforeApplicationShutdown, Inject, Injectable, Logger, OnApplicationBootstrap } from '@nestjs/common';
import { DatabaseConnector } from '@purple/persistence';
import { backoffDelay, counter } from '@purple/platform';
import { BRIDGE_SETTINGS, BridgeSettings } from '../bridge-env';
import { PublishFinishedLinks } from './publish-finished-links';

/** the longest wait between polls while they keep failing */
const MAX_BACKOFF_MS = 5 * 60_000;

const polls = counter('purple_caldera_bridge_polls_total', 'Polls of Caldera by outcome (ok, failed, waiting)', ['outcome']);

/**
 * When the bridge polls: every CALDERA_BRIDGE_POLL_INTERVAL_MS, one poll at a time; at once when the database or
 * the broker (re)connects. A failed poll (Caldera unreachable, refusing the key, answering 5xx; the broker refusing)
 * is logged with its reason and tried again after a growing delay, up to five minutes; the app stays up.
 */
@Injectable()
export class PollLoop implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger('CalderaBridge');
  /** aborts Caldera requests in flight when the app stops */
  private readonly stopping = new AbortController();
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private failures = 0;

  constructor(
    private readonly publishFinishedLinks: PublishFinishedLinks,
    @Inject(BRIDGE_SETTINGS) private readonly settings: BridgeSettings,
    private readonly amqp: AmqpConnection,
    private readonly database: DatabaseConnector,
  ) {}

  onApplicationBootstrap(): void {
    this.amqp.managedConnection.on('connect', () => this.pollSoon());
    this.database.ready().then(
      () => this.pollSoon(),
      () => undefined,
    );
    this.logger.log(
      `polling Caldera at ${this.settings.calderaUrl} every ${this.settings.pollIntervalMs} ms` +
        (this.settings.operations.length ? ` for operations ${this.settings.operations.join(', ')}` : ' for every operation'),
    );
    this.schedule(0);
  }

  /** Lets the poll in progress end (Caldera requests are aborted; a publish waits for its confirm and is recorded). */
  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort(new Error('the caldera-bridge is stopping'));
    clearTimeout(this.timer);
    await this.running;
  }

  /** after a connection came back: poll now rather than at the end of the wait (unless Caldera is failing) */
  private pollSoon(): void {
    if (!this.running && this.failures === 0) this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (this.stopping.signal.aborted) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      if (!this.running) this.running = this.pollOnce().finally(() => (this.running = undefined));
    }, delayMs);
  }

  private async pollOnce(): Promise<void> {
    let nextMs = this.settings.pollIntervalMs;
    try {
      const outcome = await this.publishFinishedLinks.execute(this.stopping.signal);
      if (outcome.kind === 'waiting') {
        polls.inc({ outcome: 'waiting' });
        this.logger.debug(`not polling Caldera: ${outcome.reason}`);
      } else {
        polls.inc({ outcome: 'ok' });
        if (this.failures > 0) this.logger.log(`polling Caldera works again after ${this.failures} failed poll(s)`);
        this.failures = 0;
        if (outcome.published + outcome.skipped > 0) {
          this.logger.log(
            `poll: ${outcome.published} link(s) published, ${outcome.skipped} skipped, from ${outcome.operations} operation(s)`,
          );
        }
      }
    } catch (error) {
      if (this.stopping.signal.aborted) return;
      polls.inc({ outcome: 'failed' });
      this.failures++;
      nextMs = backoffDelay(this.failures, this.settings.pollIntervalMs, Math.max(MAX_BACKOFF_MS, this.settings.pollIntervalMs));
      this.logger.warn(`poll failed: ${(error as Error).message}; trying again in ${nextMs} ms`);
    }
    this.schedule(nextMs);
  }
}
