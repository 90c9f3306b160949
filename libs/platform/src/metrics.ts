import {
  Controller,
  DynamicModule,
  Get,
  Header,
  Inject,
  Injectable,
  Logger,
  MiddlewareConsumer,
  Module,
  NestMiddleware,
  NestModule,
  OnApplicationBootstrap,
  OnApplicationShutdown,
} from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';
import { Server, createServer } from 'node:http';
import { AddressInfo } from 'node:net';
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
const METRICS_PORT = Symbol('METRICS_PORT');

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

/**
 * /metrics on a port of its own (METRICS_PORT), so that the app's public port (the api's, behind an ingress) does
 * not serve it. It answers GET /metrics and nothing else.
 */
@Injectable()
export class MetricsServer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Metrics');
  private readonly server: Server;

  constructor(@Inject(METRICS_APP) app: string, @Inject(METRICS_PORT) private readonly port: number) {
    initMetrics(app);
    this.server = createServer((req, res) => {
      if (req.method !== 'GET' || req.url?.split('?')[0] !== '/metrics') {
        res.writeHead(404).end();
        return;
      }
      register.metrics().then(
        (text) => res.writeHead(200, { 'Content-Type': register.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
  }

  onApplicationBootstrap(): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(this.port, '0.0.0.0', () => {
        this.logger.log(`metrics on port ${this.boundPort}`);
        resolve();
      });
    });
  }

  /** the port it listens on (METRICS_PORT=0 picks a free one) */
  get boundPort(): number {
    return (this.server.address() as AddressInfo).port;
  }

  onApplicationShutdown(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** /metrics on the app's own HTTP port, or, with `metricsPort`, only on that port. */
@Module({})
export class MetricsModule implements NestModule {
  static forApp(metricsPort: number | undefined): DynamicModule {
    if (metricsPort === undefined) return { module: MetricsModule, controllers: [MetricsController] };
    return { module: MetricsModule, providers: [{ provide: METRICS_PORT, useValue: metricsPort }, MetricsServer], exports: [MetricsServer] };
  }

  configure(consumer: MiddlewareConsumer): void {
    consumer.apply(HttpMetricsMiddleware).forRoutes('*');
  }
}
