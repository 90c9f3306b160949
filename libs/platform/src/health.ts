import { Controller, Get, HttpCode, Injectable, Module, ServiceUnavailableException } from '@nestjs/common';

/** Something readiness depends on: the broker, the database. */
export interface ReadinessCheck {
  readonly name: string;
  /** resolves to null when ready, else a short reason */
  check(): Promise<string | null>;
  /** what readiness shows about the dependency besides up/down, e.g. the broker node the app is connected to */
  describe?(): Record<string, unknown> | undefined;
}

@Injectable()
export class HealthRegistry {
  private readonly checks: ReadinessCheck[] = [];

  register(check: ReadinessCheck): void {
    this.checks.push(check);
  }

  async report(): Promise<{ ready: boolean; checks: Record<string, string>; details: Record<string, Record<string, unknown>> }> {
    const results = await Promise.all(
      this.checks.map(async (c) => [c.name, await c.check().catch((e: Error) => e.message)] as const),
    );
    return {
      ready: results.every(([, problem]) => problem === null),
      checks: Object.fromEntries(results.map(([name, problem]) => [name, problem ?? 'up'])),
      details: Object.fromEntries(this.checks.flatMap((c) => (c.describe?.() ? [[c.name, c.describe()]] : []))) as Record<string, Record<string, unknown>>,
    };
  }
}

@Controller('health')
export class HealthController {
  constructor(private readonly registry: HealthRegistry) {}

  /** The process is alive and serving HTTP; restart it only if this fails. */
  @Get('live')
  @HttpCode(200)
  live() {
    return { status: 'up' };
  }

  /** Take traffic only when every dependency answers. */
  @Get('ready')
  async ready() {
    const report = await this.registry.report();
    if (!report.ready) throw new ServiceUnavailableException({ status: 'down', checks: report.checks, ...report.details });
    return { status: 'up', checks: report.checks, ...report.details };
  }
}

@Module({ controllers: [HealthController], providers: [HealthRegistry], exports: [HealthRegistry] })
export class HealthModule {}
