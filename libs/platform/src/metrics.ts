import { Controller, Get, Header, Inject, Injectable, MiddlewareConsumer, Module, NestMiddleware, NestModule } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, collectDefaultMetrics, register } from 'prom-client';

/**
 * Prometheus metrics live in prom-client's default registry, so any library can define its own metrics at module
 * level and they are all served here. Names follow Prometheus conventions: `purple_` prefix, base units, `_total`.
 */
export const METRICS_REGISTRY = register;

let defaultsCollected = false;

/** Called once per process: the app label on every series, and Node's process metrics. */
export function initMetrics(app: string): void {
  register.setDefaultLabels({ app });
  if (!defaultsCollected) {
    collectDefaultMetrics({ register });
    defaultsCollected = true;
  }
}

/** A metric defined once per process even when several modules (or test apps) ask for it. */
export function counter<L extends string>(name: string, help: string, labelNames: L[]): Counter<L> {
  return (register.getSingleMetric(name) as Counter<L>) ?? new Counter({ name, help, labelNames });
}

export function histogram<L extends string>(name: string, help: string, labelNames: L[], buckets?: number[]): Histogram<L> {
  return (register.getSingleMetric(name) as Histogram<L>) ?? new Histogram({ name, help, labelNames, ...(buckets ? { buckets } : {}) });
}

const httpRequests = counter('purple_http_requests_total', 'HTTP requests answered', ['method', 'route', 'status']);
const httpDuration = histogram('purple_http_request_duration_seconds', 'HTTP request duration', ['method', 'route'], [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
]);

/** Counts every request by its route pattern (never the raw URL: ids would explode the label set). */
@Injectable()
export class HttpMetricsMiddleware implements NestMiddleware {
  use(req: Request, res: Response, next: NextFunction): void {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const route = (req.route?.path as string | undefined) ?? (res.statusCode === 404 ? 'unmatched' : req.baseUrl || 'unknown');
      if (route === '/metrics') return;
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      httpRequests.inc({ method: req.method, route, status: String(res.statusCode) });
      httpDuration.observe({ method: req.method, route }, seconds);
    });
    next();
  }
}

export const METRICS_APP = Symbol('METRICS_APP');

@Controller()
export class MetricsController {
  constructor(@Inject(METRICS_APP) app: string) {
    initMetrics(app);
  }

  @Get('metrics')
  @Header('Content-Type', register.contentType)
  metrics(): Promise<string> {
    return register.metrics();
  }
}

@Module({ controllers: [MetricsController] })
export class MetricsModule implements NestModule {
  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*');
  }
}
