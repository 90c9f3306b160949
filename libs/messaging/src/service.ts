import { DynamicModule, INestApplication } from '@nestjs/common';
import { CommonEnv, createApp, loadConfig, requireEnv, runMain } from '@purple/platform';
import { AppName, roleOf } from '@purple/topology';

/** Each app's HTTP port (health, metrics; the api's whole API) when PORT is not set, so all run side by side. */
export const DEFAULT_HTTP_PORTS: Record<AppName, number> = {
  api: 3000,
  'bus-router': 3001,
  'caldera-consumer': 3002,
  dispatcher: 3003,
  'api-worker': 3004,
  'agent-worker': 3005,
  'result-consumer': 3006,
  'caldera-bridge': 3007,
};

export interface ServiceOptions {
  configure?: (app: INestApplication) => void | Promise<void>;
}

/** Validates the configuration (naming what is missing), then starts the app. */
export function startService(
  app: AppName,
  register: (env: CommonEnv) => DynamicModule,
  options: ServiceOptions = {},
  envSource: NodeJS.ProcessEnv = process.env,
): Promise<INestApplication> {
  const env = loadConfig(CommonEnv, envSource);
  requireEnv(roleOf(app).passwordEnv, envSource);
  return createApp(register(env) as never, { port: env.PORT ?? DEFAULT_HTTP_PORTS[app], configure: options.configure });
}

/** The whole of an app's `main.ts`. */
export function serviceMain(app: AppName, register: (env: CommonEnv) => DynamicModule, options: ServiceOptions = {}): void {
  runMain(() => startService(app, register, options), loadShutdownTimeout());
}

function loadShutdownTimeout(): number {
  const ms = Number(process.env['SHUTDOWN_TIMEOUT_MS']);
  return Number.isFinite(ms) && ms >= 1000 ? ms : 25_000;
}
