import { Injectable, Logger, OnApplicationShutdown } from '@nestjs/common';
import { Client } from 'pg';
import { backoffDelay, pause } from '@purple/platform';
import { DatabaseSettings } from '@purple/persistence';

/** The channel the bus_client trigger notifies, with the client id as payload. */
export const CLIENT_CHANGED_CHANNEL = 'bus_client_changed';

export interface ClientChangeHandlers {
  /** a client was created, changed or deleted */
  changed(clientId: string): void;
  /** (re)connected and listening: notifications may have been missed meanwhile */
  listening(): void;
}

/**
 * LISTENs on a dedicated PostgreSQL connection (a pooled one would lose the LISTEN) and reconnects with backoff
 * when it drops.
 */
@Injectable()
export class ClientChangeListener implements OnApplicationShutdown {
  private readonly logger = new Logger('ClientChanges');
  private readonly stopping = new AbortController();
  private running?: Promise<void>;

  constructor(private readonly database: DatabaseSettings) {}

  start(handlers: ClientChangeHandlers): void {
    this.running ??= this.listen(handlers);
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.running;
  }

  private async listen(handlers: ClientChangeHandlers): Promise<void> {
    const { signal } = this.stopping;
    for (let failures = 0; !signal.aborted; ) {
      const client = new Client({ connectionString: this.database.url, connectionTimeoutMillis: 5_000 });
      let onAbort = () => undefined as void;
      // resolves with why the connection ended, or undefined when the app stops
      const ended = new Promise<unknown>((resolve) => {
        client.on('error', resolve);
        client.on('end', () => resolve(new Error('connection ended')));
        onAbort = () => resolve(undefined);
        signal.addEventListener('abort', onAbort, { once: true });
      });
      try {
        await client.connect();
        client.on('notification', (n) => n.channel === CLIENT_CHANGED_CHANNEL && n.payload && handlers.changed(n.payload));
        await client.query(`LISTEN ${CLIENT_CHANGED_CHANNEL}`);
        failures = 0;
        handlers.listening();
        const reason = await ended;
        if (reason) this.logger.warn(`lost the LISTEN connection to PostgreSQL: ${(reason as Error).message}; reconnecting`);
      } catch (error) {
        if (!signal.aborted) this.logger.warn(`cannot LISTEN on PostgreSQL: ${(error as Error).message}; retrying`);
      } finally {
        signal.removeEventListener('abort', onAbort);
        await client.end().catch(() => undefined);
      }
      if (!signal.aborted) await pause(backoffDelay(failures++, 500, 15_000), signal);
    }
  }
}
