/// <reference types="jest" />
import { DynamicModule, INestApplication } from '@nestjs/common';
import { CommonEnv } from '@purple/platform';
import { DATABASE_APPS, databaseUrlEnvOf, isDatabaseApp } from '@purple/persistence';
import { AppName } from '@purple/topology';
import { BrokerNamespace, createBrokerNamespace } from './broker';
import { TestDatabase, createTestDatabase } from './database';
import { baseUrl, connectedUsers, eventually, expectedRole, health, startTestService } from './service';

/**
 * The workspace contract every app keeps: it connects to RabbitMQ as its own user and to PostgreSQL, is ready only
 * when both answer (503 with the reason otherwise), and closes its connections when stopped.
 */
export function describeServiceLifecycle(
  app: AppName,
  register: (env: CommonEnv) => DynamicModule,
  extraEnv: () => Record<string, string> = () => ({}),
): void {
  describe(`${app} service lifecycle`, () => {
    let broker: BrokerNamespace;
    let db: TestDatabase;

    beforeAll(async () => {
      [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    });
    afterAll(async () => {
      await Promise.all([broker?.dispose(), db?.drop()]);
    });

    it(`connects as its own broker user, becomes ready, and disconnects when closed`, async () => {
      const role = expectedRole(app, broker);
      const service = await startTestService(app, register, broker, db.url, extraEnv());
      try {
        expect((await health(service, 'live')).status).toBe(200);
        const ready = await eventually(async () => ((await health(service, 'ready')).status === 200 ? health(service, 'ready') : null));
        // the detection workers have no database at all (issue 12 #12): no pool, no role, no check
        expect(ready.body.checks).toEqual(isDatabaseApp(app) ? { database: 'up', broker: 'up' } : { broker: 'up' });
        await eventually(async () => (await connectedUsers(broker, role.vhost)).includes(role.user));
        const metrics = await fetch(`${await baseUrl(service)}/metrics`);
        expect(metrics.status).toBe(200);
        const text = await metrics.text();
        expect(text).toContain(`process_cpu_user_seconds_total{app="${app}"}`);
        expect(text).toMatch(new RegExp(`purple_http_requests_total\\{[^}]*route="/health/ready"[^}]*app="${app}"`));
      } finally {
        await service.close();
      }
      await eventually(async () => !(await connectedUsers(broker, role.vhost)).includes(role.user));
    });

    it('is not ready (503, with the reason) while the broker is unreachable', async () => {
      const service = await startTestService(app, register, broker, db.url, { ...extraEnv(), RABBITMQ_PORT: '1' });
      try {
        const { status, body } = await eventually(async () => {
          const h = await health(service, 'ready');
          return h.body.checks?.['database'] === 'up' || !isDatabaseApp(app) ? h : null;
        });
        expect(status).toBe(503);
        expect(body.checks?.['broker']).toBe('not connected');
        expect((await health(service, 'live')).status).toBe(200);
      } finally {
        await service.close();
      }
    });

    if (isDatabaseApp(app)) {
      it('is not ready (503, with the reason) while the database is unreachable', async () => {
        const unreachable = 'postgres://postgres@127.0.0.1:1/nowhere';
        const service: INestApplication = await startTestService(app, register, broker, unreachable, extraEnv());
        try {
          const { status, body } = await eventually(async () => {
            const h = await health(service, 'ready');
            return h.body.checks?.['broker'] === 'up' ? h : null;
          });
          expect(status).toBe(503);
          expect(body.checks?.['database']).toBe('not connected');
        } finally {
          await service.close();
        }
      });
    } else {
      it('uses no database: ready with no database URL set, and no database check', async () => {
        const service = await startTestService(app, register, broker, db.url, { ...extraEnv(), ...noDatabaseUrls() });
        try {
          const ready = await eventually(async () => ((await health(service, 'ready')).status === 200 ? health(service, 'ready') : null));
          expect(ready.body.checks).toEqual({ broker: 'up' });
        } finally {
          await service.close();
        }
      });
    }
  });
}

/** Every app's database URL variable, empty (unset for the config loader). */
const noDatabaseUrls = (): Record<string, string> => Object.fromEntries(DATABASE_APPS.map((app) => [databaseUrlEnvOf(app), '']));
