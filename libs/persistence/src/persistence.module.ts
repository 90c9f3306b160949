import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { TypeOrmModule, getDataSourceToken } from '@nestjs/typeorm';
import { DataSource } from 'typeorm';
import { CommonEnv, HealthRegistry, backoffDelay, sleep } from '@purple/platform';
import { ENTITIES, dataSourceOptions } from './data-source';

/**
 * Connects in the background with backoff, so the app (and its /health/ready, 503 meanwhile) is up while
 * PostgreSQL is not; TypeORM's own retry would block start-up and then crash it.
 */
@Injectable()
export class DatabaseConnector implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Database');
  private stopped = false;
  private connecting?: Promise<void>;

  constructor(
    @Inject(getDataSourceToken()) private readonly dataSource: DataSource,
    health: HealthRegistry,
  ) {
    health.register({ name: 'database', check: () => this.check() });
  }

  onApplicationBootstrap(): void {
    this.connecting = this.connect();
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
      } catch (error) {
        const delay = backoffDelay(attempt);
        this.logger.warn(`PostgreSQL unreachable (${(error as Error).message}); retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  }

  private async check(): Promise<string | null> {
    if (!this.dataSource.isInitialized) return 'not connected';
    try {
      await this.dataSource.query('SELECT 1');
      return null;
    } catch (error) {
      return (error as Error).message;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopped = true;
    await this.connecting;
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }
}

@Module({})
export class PersistenceModule {
  static forRoot(): DynamicModule {
    return {
      module: PersistenceModule,
      global: true,
      imports: [
        TypeOrmModule.forRootAsync({
          inject: [CommonEnv],
          useFactory: (env: CommonEnv) => ({
            ...dataSourceOptions(env.DATABASE_URL, { extra: { connectionTimeoutMillis: 5000 } }),
            manualInitialization: true,
          }),
        }),
        TypeOrmModule.forFeature(ENTITIES),
      ],
      providers: [DatabaseConnector],
      exports: [TypeOrmModule, DatabaseConnector],
    };
  }
}
