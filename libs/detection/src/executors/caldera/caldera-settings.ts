import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ConfigError, loadConfig } from '@purple/platform';

const HTTP_URL = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

/**
 * The Caldera agent executors' environment. Without CALDERA_URL they are not registered (tasks for `caldera`,
 * `powershell`, `bash` and `sh` are answered `unsupported`, unless another executor takes those names).
 */
export class CalderaEnv {
  /** Caldera's server, e.g. https://caldera.example:8888 (the REST API is under /api/v2) */
  @IsOptional()
  @Matches(HTTP_URL, { message: 'CALDERA_URL must be an http(s) URL without a query' })
  CALDERA_URL?: string;

  /** a red or blue API key (Caldera's `api_key_red` / `api_key_blue`), sent as the `KEY` header */
  @IsOptional()
  @IsString()
  CALDERA_API_KEY?: string;

  /** `false` accepts a self-signed certificate (labs only) */
  @IsIn(['true', 'false'])
  CALDERA_VERIFY_TLS = 'true';

  /** how often the link is asked whether the agent has run it */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60_000)
  CALDERA_POLL_INTERVAL_MS = 2000;

  /** the longest Retry-After (429/503) waited for within one search; longer ones wait for the next interval */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600)
  CALDERA_MAX_RETRY_AFTER_SECONDS = 30;
}

export interface CalderaSettings {
  /** without a trailing slash */
  url: string;
  apiKey: string;
  verifyTls: boolean;
  pollIntervalMs: number;
  maxRetryAfterMs: number;
}

/** The executors' settings, undefined when Caldera is not configured; throws ConfigError naming what is wrong. */
export function loadCalderaSettings(env: NodeJS.ProcessEnv): CalderaSettings | undefined {
  const config = loadConfig(CalderaEnv, env);
  if (config.CALDERA_URL === undefined) return undefined;
  if (new URL(config.CALDERA_URL).username !== '') {
    throw new ConfigError(['CALDERA_URL must not contain credentials (use CALDERA_API_KEY)']);
  }
  if (!config.CALDERA_API_KEY) throw new ConfigError(['CALDERA_API_KEY is missing: CALDERA_URL is set']);
  return {
    url: config.CALDERA_URL.replace(/\/+$/, ''),
    apiKey: config.CALDERA_API_KEY,
    verifyTls: config.CALDERA_VERIFY_TLS === 'true',
    pollIntervalMs: config.CALDERA_POLL_INTERVAL_MS,
    maxRetryAfterMs: config.CALDERA_MAX_RETRY_AFTER_SECONDS * 1000,
  };
}
