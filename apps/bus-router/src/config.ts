import { DynamicModule, Global, Module } from '@nestjs/common';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Max, Min, MinLength } from 'class-validator';
import { parseAllowlist, splitAllowlist } from '@purple/bus';
import { CommonEnv, ConfigError, loadConfig } from '@purple/platform';

/** The bus router's own variables, on top of every app's. */
export class BusRouterEnv extends CommonEnv {
  /** opens the webhook signing secrets stored sealed in bus_client (the api seals them with the same key) */
  @IsString()
  @MinLength(16)
  WEBHOOK_SECRET_KEY!: string;

  /** one delivery attempt, from connecting to the response status */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(120_000)
  WEBHOOK_TIMEOUT_MS = 10_000;

  /**
   * Attempts before a message goes to the client's dead-letter queue. The message stays unacked meanwhile, so the
   * attempts and waits together must end well within RabbitMQ's consumer_timeout (30 min by default).
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(20)
  WEBHOOK_MAX_ATTEMPTS = 8;

  /** first retry after about this long, doubling (with jitter) up to WEBHOOK_BACKOFF_MAX_MS */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  WEBHOOK_BACKOFF_BASE_MS = 1_000;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(300_000)
  WEBHOOK_BACKOFF_MAX_MS = 60_000;

  /** deliver webhooks to private, loopback and link-local addresses too (development only) */
  @Transform(({ obj }) => parseBoolean((obj as Record<string, unknown>)['WEBHOOK_ALLOW_PRIVATE']))
  @IsBoolean({ message: 'WEBHOOK_ALLOW_PRIVATE must be true or false' })
  WEBHOOK_ALLOW_PRIVATE = false;

  /** hosts, `*.domains`, addresses or CIDRs webhooks may reach although private, comma-separated */
  @IsOptional()
  @IsString()
  WEBHOOK_ALLOWLIST?: string;

  /** a full comparison of running consumers with bus_client, as a backstop to LISTEN/NOTIFY */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  ROUTER_RECONCILE_INTERVAL_MS = 30_000;

  /**
   * How long a copy a full inbox refused is retried (with ROUTER_RETRY_* backoff) before it is dead-lettered to
   * that client with the reason `inbox full`. Below the inboxes' message TTL (1 h), which also bounds the retry queue.
   */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3_000_000)
  ROUTER_INBOX_FULL_RETRY_MS = 300_000;

  /** backoff while a client's queue does not exist yet, or a publish is refused (a full inbox) */
  @Type(() => Number)
  @IsInt()
  @Min(10)
  ROUTER_RETRY_BASE_MS = 200;

  @Type(() => Number)
  @IsInt()
  @Min(10)
  ROUTER_RETRY_MAX_MS = 5_000;

  /**
   * Messages of one sender's outbox (or broadcast queue) being forwarded at once. They are published in the order
   * they arrive, and each is acked after its own confirm, so a sender is not held to one broker round trip per
   * message; 1 waits for each confirm before the next.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  ROUTER_PREFETCH = 50;

  get webhookAllowlist(): string[] {
    return splitAllowlist(this.WEBHOOK_ALLOWLIST);
  }
}

function parseBoolean(value: unknown): unknown {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  return value;
}

/** The router's variables, from the same source as `env`; a problem stops the start, naming the variable. */
export function loadBusRouterEnv(env: CommonEnv): BusRouterEnv {
  const config = loadConfig(BusRouterEnv, env.source ?? process.env);
  try {
    parseAllowlist(config.webhookAllowlist);
  } catch (error) {
    throw new ConfigError([`WEBHOOK_ALLOWLIST is malformed (${(error as Error).message})`]);
  }
  return config;
}

/** The router's validated configuration, injectable everywhere in the app. */
@Global()
@Module({})
export class BusRouterConfigModule {
  static forRoot(config: BusRouterEnv): DynamicModule {
    return { module: BusRouterConfigModule, providers: [{ provide: BusRouterEnv, useValue: config }], exports: [BusRouterEnv] };
  }
}
