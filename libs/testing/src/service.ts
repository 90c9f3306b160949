import { DynamicModule, INestApplication } from '@nestjs/common';
import { startService } from '@purple/messaging';
import { CommonEnv } from '@purple/platform';
import { AppName, roleOf } from '@purple/topology';
import { BrokerNamespace } from './broker';
import { databaseEnv } from './database';

/** The HTTP base URL of an app started with PORT 0. */
export async function baseUrl(app: INestApplication): Promise<string> {
  const address = app.getHttpServer().address() as { port: number };
  return `http://127.0.0.1:${address.port}`;
}

/** Polls until `probe` resolves truthy, or fails after `timeoutMs` with the last value seen. */
export async function eventually<T>(
  probe: () => Promise<T | null | undefined | false>,
  timeoutMs = 30_000,
  intervalMs = 100,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      last = await probe();
      if (last) return last as T;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms; last: ${describe(last)}`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

const describe = (v: unknown) => (v instanceof Error ? v.message : JSON.stringify(v));

/** GET a health endpoint: status and body. */
export async function health(app: INestApplication, which: 'live' | 'ready') {
  // bounded: a probe that hangs fails (and `eventually` asks again) instead of using up the test's whole time
  const res = await fetch(`${await baseUrl(app)}/health/${which}`, { signal: AbortSignal.timeout(10_000) });
  return { status: res.status, body: (await res.json()) as { status: string; checks?: Record<string, string> } };
}

/** Starts an app in-process in a test namespace and database, on a free port. */
export function startTestService(
  app: AppName,
  register: (env: CommonEnv) => DynamicModule,
  broker: BrokerNamespace,
  databaseUrl: string,
  extraEnv: Record<string, string> = {},
): Promise<INestApplication> {
  return startService(app, register, {}, {
    ...broker.env(),
    ...databaseEnv(databaseUrl),
    PORT: '0',
    LOG_LEVEL: process.env['TEST_LOG_LEVEL'] ?? 'warn',
    ...extraEnv,
  });
}

/** The names of the broker users with a connection open to `vhost` right now (management API). */
export async function connectedUsers(broker: BrokerNamespace, vhost: string): Promise<string[]> {
  const connections = await broker
    .management()
    .get<Array<{ user: string; vhost: string }>>(`/api/vhosts/${encodeURIComponent(broker.vhost(vhost))}/connections`);
  return connections.map((c) => c.user);
}

/** The broker user and vhost an app must connect as, in this namespace. */
export const expectedRole = (app: AppName, broker: BrokerNamespace) => roleOf(app, { namespace: broker.namespace });
