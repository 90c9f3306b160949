import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CommonEnv, Gate, HealthRegistry, backoffDelay, pause, sleep } from '@purple/platform';
import { ENTITIES, dataSourceOptions } from './data-source';
import { DatabaseApp, databaseUrlFrom } from './database-roles';

/** Which app this is on PostgreSQL, and the URL (its own role) it connects with. */
export class DatabaseSettings {
  constructor(
    readonly app: DatabaseApp,
    readonly url: string,
  ) {}
}

/**
 * Connects in the background with backoff, so the app (and its /health/ready, 503 meanwhile) is up while
 * PostgreSQL is not; TypeORM's own retry would block start-up and then crash it. Owns the database's gate: the
 * consumers that need PostgreSQL take messages only while it is open. A consumer whose message met an outage closes
 * it; this then probes the database with backoff and opens it again once it answers.
 */
@Injectable()
export class DatabaseConnector implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private stopped = false;
  private readonly stopping = new AbortController();
  private connecting?: Promise<void>;
  private watching?: Promise<void>;
  /** open while PostgreSQL answers */
  readonly gate = new Gate('database not connected');

  constructor(
    @Inject(getDataSourceToken()) private readonly dataSource: DataSource,
    health: HealthRegistry,
  ) {
    health.register({ name: 'database', check: () => this.check() });
  }

  onApplicationBootstrap(): void {
    this.connecting = this.connect();
    this.watching = this.reopenAfterOutages();
  }

  /** Resolves once the database is connected (for code that must not run before). */
  async ready(): Promise<void> {
    while (!this.dataSource.isInitialized) {
      if (this.stopped) throw new Error('database connector stopped');
      await sleep(100);
    }
  }

  private async connect(): Promise<void> {
    for (let attempt = 0; !this.stopped && !this.dataSource.isInitialized; attempt++) {
      try {
        await this.dataSource.initialize();
        this.logger.log('connected to PostgreSQL');
        this.gate.open();
      } catch (error) {
        const delay = backoffDelay(attempt);
        this.logger.warn(`PostgreSQL unreachable (${(error as Error).message}); retrying in ${delay} ms`);
        await pause(delay, this.stopping.signal);
      }
    }
  }

  /** Each time a consumer closes the gate, probes until PostgreSQL answers, then opens it. */
  private async reopenAfterOutages(): Promise<void> {
    const { signal } = this.stopping;
    while (!signal.aborted && (await this.gate.waitClosed(signal))) {
      if (!this.dataSource.isInitialized) {
        await this.gate.waitOpen(signal); // opened by connect()
        continue;
      }
      this.logger.warn(`PostgreSQL unreachable (${this.gate.reason}); consumption paused until it answers`);
      for (let attempt = 0; !signal.aborted; attempt++) {
        try {
          await this.dataSource.query('SELECT 1');
          this.logger.log('PostgreSQL answers again; consumption resumes');
          this.gate.open();
          break;
        } catch {
          await pause(backoffDelay(attempt, 250, 5000), signal);
        }
      }
    }
  }

  private async check(): Promise<string | null> {
    if (!this.dataSource.isInitialized) return 'not connected';
    if (!this.gate.isOpen) return 'database unreachable: consumption paused';
    try {
      await this.dataSource.query('SELECT 1');
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    this.stopping.abort();
    await Promise.all([this.connecting, this.watching]);
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

@Module({})
export class PersistenceModule {
  /**
   * Connects as the app's own role, from its own variable (`API_DATABASE_URL`, …; see database-roles.ts), checked
   * here at start: a missing or malformed one stops the app with a ConfigError naming it.
   */
  static forRoot(app: DatabaseApp, env: CommonEnv): DynamicModule {
    const settings = new DatabaseSettings(app, databaseUrlFrom(app, env.source ?? process.env));
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRoot({
          ...dataSourceOptions(settings.url, { extra: { connectionTimeoutMillis: 5000 } }),
          manualInitialization: true,
        }),
        TypeOrmModule.forFeature(ENTITIES),
      ],
      providers: [DatabaseConnector, { provide: DatabaseSettings, useValue: settings }],
      exports: [TypeOrmModule, DatabaseConnector, DatabaseSettings],
    };
  }
}
