import { DynamicModule, Global, Module } from '@nestjs/common';
import { HealthModule } from './health';
import { loggingModule } from './logging';
import { CommonEnv } from './env';
import { METRICS_APP, MetricsModule } from './metrics';

export const APP_NAME = Symbol('APP_NAME');

/** What every app gets the same way: its name, validated config, JSON logs, health endpoints and /metrics. */
@Global()
@Module({})
export class PlatformModule {
  static forApp(app: string, env: CommonEnv): DynamicModule {
    return {
      module: PlatformModule,
      imports: [loggingModule(app, env.LOG_LEVEL, env.LOG_FORMAT), HealthModule, MetricsModule.forApp(env.METRICS_PORT)],
      providers: [
        { provide: APP_NAME, useValue: app },
        { provide: CommonEnv, useValue: env },
        { provide: METRICS_APP, useValue: app },
      ],
      exports: [APP_NAME, CommonEnv, HealthModule, METRICS_APP],
    };
  }
}
