import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ConfigError, loadConfig } from '@purple/platform';

const HTTP_URL = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

/** The Splunk connector's environment. Without SPLUNK_URL the connector is not registered (tasks: `unsupported`). */
export class SplunkEnv {
  /** the management (REST) port, e.g. https://splunk.example:8089 */
  @IsOptional()
  @Matches(HTTP_URL, { message: 'SPLUNK_URL must be an http(s) URL without a query' })
  SPLUNK_URL?: string;

  /** an authentication token (sent as `Authorization: Bearer`); or SPLUNK_USERNAME and SPLUNK_PASSWORD */
  @IsOptional()
  @IsString()
  SPLUNK_TOKEN?: string;

  @IsOptional()
  @IsString()
  SPLUNK_USERNAME?: string;

  @IsOptional()
  @IsString()
  SPLUNK_PASSWORD?: string;

  /** `false` accepts a self-signed certificate (labs only) */
  @IsIn(['true', 'false'])
  SPLUNK_VERIFY_TLS = 'true';

  /** Splunk Web, e.g. https://splunk.example:8000/en-US: evidence then links to the matching search */
  @IsOptional()
  @Matches(HTTP_URL, { message: 'SPLUNK_WEB_URL must be an http(s) URL without a query' })
  SPLUNK_WEB_URL?: string;

  /** the longest Retry-After (429/503) waited for within one search; longer ones wait for the next interval */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600)
  SPLUNK_MAX_RETRY_AFTER_SECONDS = 30;
}

export interface SplunkSettings {
  url: string;
  auth: { token: string } | { username: string; password: string };
  verifyTls: boolean;
  webUrl?: string;
  maxRetryAfterMs: number;
}

/** The connector's settings, undefined when Splunk is not configured; throws ConfigError naming what is wrong. */
export function loadSplunkSettings(env: NodeJS.ProcessEnv): SplunkSettings | undefined {
  const config = loadConfig(SplunkEnv, env);
  if (config.SPLUNK_URL === undefined) return undefined;
  if (new URL(config.SPLUNK_URL).username !== '') {
    throw new ConfigError(['SPLUNK_URL must not contain credentials (use SPLUNK_TOKEN or SPLUNK_USERNAME/SPLUNK_PASSWORD)']);
  }
  let auth: SplunkSettings['auth'];
  if (config.SPLUNK_TOKEN) auth = { token: config.SPLUNK_TOKEN };
  else if (config.SPLUNK_USERNAME && config.SPLUNK_PASSWORD) auth = { username: config.SPLUNK_USERNAME, password: config.SPLUNK_PASSWORD };
  else throw new ConfigError(['SPLUNK_TOKEN (or SPLUNK_USERNAME and SPLUNK_PASSWORD) is missing: SPLUNK_URL is set']);
  return {
    url: config.SPLUNK_URL.replace(/\/+$/, ''),
    auth,
    verifyTls: config.SPLUNK_VERIFY_TLS === 'true',
    ...(config.SPLUNK_WEB_URL !== undefined && { webUrl: config.SPLUNK_WEB_URL.replace(/\/+$/, '') }),
    maxRetryAfterMs: config.SPLUNK_MAX_RETRY_AFTER_SECONDS * 1000,
  };
}
