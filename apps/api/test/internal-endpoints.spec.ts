import 'reflect-metadata';
import { INestApplication } from '@nestjs/common';
import { MetricsServer } from '@purple/platform';
import { BrokerNamespace, TestDatabase, baseUrl, createBrokerNamespace, createTestDatabase } from '@purple/testing';
import { apiEnv, startApi } from './support';

/**
 * Issue 12 (low): outside development the api serves neither Swagger nor the OpenAPI document, and with METRICS_PORT
 * /metrics is served on that internal port only, not on the public one.
 */
describe('the api’s internal endpoints in production', () => {
  let broker: BrokerNamespace;
  let db: TestDatabase;
  let api: INestApplication;
  beforeAll(async () => {
    [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
    // production's defaults: no NODE_ENV, no EXPOSE_DOCS
    const { EXPOSE_DOCS: _docs, ...env } = apiEnv(broker, db.url, { METRICS_PORT: '0' });
    api = await startApi(env);
  }, 60_000);
  afterAll(async () => {
    await api?.close(); // unset when beforeAll failed
    await Promise.all([broker?.dispose(), db?.drop()]);
  }, 60_000);

  it('answers 404 for /docs and /docs-json', async () => {
    const url = await baseUrl(api);
    for (const path of ['/docs', '/docs/', '/docs-json']) expect((await fetch(`${url}${path}`)).status).toBe(404);
    // the api itself is up on that port
    expect((await fetch(`${url}/health/live`)).status).toBe(200);
  });

  it('serves /metrics on METRICS_PORT and not on the api’s port', async () => {
    expect((await fetch(`${await baseUrl(api)}/metrics`)).status).toBe(404);
    const metricsUrl = `http://127.0.0.1:${api.get(MetricsServer).boundPort}`;
    const metrics = await fetch(`${metricsUrl}/metrics`);
    expect(metrics.status).toBe(200);
    const text = await metrics.text();
    expect(text).toContain('purple_http_requests_total');
    expect(text).toContain('app="api"');
    expect((await fetch(`${metricsUrl}/docs-json`)).status).toBe(404);
    expect((await fetch(`${metricsUrl}/health/live`)).status).toBe(404);
  });
});
