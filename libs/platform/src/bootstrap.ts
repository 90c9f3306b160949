import { INestApplication, Logger as NestLogger, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { ConfigError } from './config';
import { setFatalHandler } from './fatal';

export interface RunOptions {
  port: number;
  /** HTTP extras (Swagger, body limits) before listen */
  configure?: (app: INestApplication) => void | Promise<void>;
}

/** Creates and starts an app with JSON logs from its first line. */
export async function createApp(module: Type<unknown>, options: RunOptions): Promise<INestApplication> {
  const app = await NestFactory.create(module, { bufferLogs: true, abortOnError: false });
  app.useLogger(app.get(Logger));
  await options.configure?.(app);
  await app.listen(options.port, '0.0.0.0');
  return app;
}

/**
 * For `main.ts`. SIGTERM or SIGINT closes the app (consumers stop, in-flight messages finish, connections close)
 * and exits 0, or exits 1 if that takes longer than the timeout. A configuration error is one line on stderr
 * and exit code 1, never a stack trace. A rejection nobody handled is logged, and the process keeps running: the
 * messaging runtime never lets one through, and one missed elsewhere must not take every message in hand down.
 */
export function runMain(start: () => Promise<INestApplication>, shutdownTimeoutMs = 25_000): void {
  process.on('unhandledRejection', (reason: unknown) => {
    const detail = reason instanceof Error ? (reason.stack ?? reason.message) : String(reason);
    new NestLogger('Process').error(`unhandled rejection (the process keeps running): ${detail}`);
  });
  Promise.resolve().then(start).then(
    (app) => {
      const stop = async () => {
        setTimeout(() => {
          process.stderr.write(`shutdown took longer than ${shutdownTimeoutMs} ms, exiting\n`);
          process.exit(1);
        }, shutdownTimeoutMs).unref();
        await app.close();
        process.exit(process.exitCode ?? 0);
      };
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      setFatalHandler(() => {
        process.exitCode = 1;
        void stop();
      });
    },
    (error: unknown) => {
      const message = error instanceof ConfigError ? error.message : error instanceof Error ? error.stack : String(error);
      process.stderr.write(`${message}\n`);
      process.exit(1);
    },
  );
}
