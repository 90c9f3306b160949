import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ConfigError, loadConfig } from '@purple/platform';

const HTTP_URL = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

/** The Falcon clouds: the API a client of that cloud talks to, and the console its alerts are shown in. */
export const CROWDSTRIKE_CLOUDS = {
  'us-1': { api: 'https://api.crowdstrike.com', console: 'https://falcon.crowdstrike.com' },
  'us-2': { api: 'https://api.us-2.crowdstrike.com', console: 'https://falcon.us-2.crowdstrike.com' },
  'eu-1': { api: 'https://api.eu-1.crowdstrike.com', console: 'https://falcon.eu-1.crowdstrike.com' },
  'us-gov-1': { api: 'https://api.laggar.gcw.crowdstrike.com', console: 'https://falcon.laggar.gcw.crowdstrike.com' },
} as const;

export type CrowdStrikeCloud = keyof typeof CROWDSTRIKE_CLOUDS;

/**
 * The CrowdStrike Falcon connector's environment. Without any CROWDSTRIKE_CLIENT_ID, _CLIENT_SECRET, _CLOUD or
 * _BASE_URL the connector is not registered (tasks: `unsupported`).
 */
export class CrowdStrikeEnv {
  /** an API client (Falcon console: Support and resources → API clients and keys) with the Alerts: Read scope */
  @IsOptional()
  @IsString()
  CROWDSTRIKE_CLIENT_ID?: string;

  @IsOptional()
  @IsString()
  CROWDSTRIKE_CLIENT_SECRET?: string;

  /** the client's cloud; default us-1 */
  @IsOptional()
  @IsIn(Object.keys(CROWDSTRIKE_CLOUDS), { message: `CROWDSTRIKE_CLOUD must be one of ${Object.keys(CROWDSTRIKE_CLOUDS).join(', ')}` })
  CROWDSTRIKE_CLOUD?: string;

  /** the API's base URL, instead of CROWDSTRIKE_CLOUD (a proxy, a test server) */
  @IsOptional()
  @Matches(HTTP_URL, { message: 'CROWDSTRIKE_BASE_URL must be an http(s) URL without a query' })
  CROWDSTRIKE_BASE_URL?: string;

  /** `false` accepts a self-signed certificate (a lab proxy only) */
  @IsIn(['true', 'false'])
  CROWDSTRIKE_VERIFY_TLS = 'true';

  /** the Falcon console, for evidence links of alerts that carry none; default the cloud's console */
  @IsOptional()
  @Matches(HTTP_URL, { message: 'CROWDSTRIKE_CONSOLE_URL must be an http(s) URL without a query' })
  CROWDSTRIKE_CONSOLE_URL?: string;

  /** the longest wait a 429 asks for (X-RateLimit-RetryAfter, Retry-After) within one search */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600)
  CROWDSTRIKE_MAX_RETRY_AFTER_SECONDS = 30;
}

export interface CrowdStrikeSettings {
  /** the API base, no trailing slash */
  baseUrl: string;
  clientId: string;
  clientSecret: string;
  verifyTls: boolean;
  consoleUrl: string;
  maxRetryAfterMs: number;
}

/** The connector's settings, undefined when CrowdStrike is not configured; throws ConfigError naming what is wrong. */
export function loadCrowdStrikeSettings(env: NodeJS.ProcessEnv): CrowdStrikeSettings | undefined {
  const config = loadConfig(CrowdStrikeEnv, env);
  const configured = [config.CROWDSTRIKE_CLIENT_ID, config.CROWDSTRIKE_CLIENT_SECRET, config.CROWDSTRIKE_CLOUD, config.CROWDSTRIKE_BASE_URL];
  if (configured.every((value) => value === undefined)) return undefined;
  const missing = (['CROWDSTRIKE_CLIENT_ID', 'CROWDSTRIKE_CLIENT_SECRET'] as const).filter((name) => config[name] === undefined);
  if (missing.length > 0) throw new ConfigError(missing.map((name) => `${name} is missing: the CrowdStrike connector is configured`));
  if (config.CROWDSTRIKE_BASE_URL !== undefined && new URL(config.CROWDSTRIKE_BASE_URL).username !== '') {
    throw new ConfigError(['CROWDSTRIKE_BASE_URL must not contain credentials (use CROWDSTRIKE_CLIENT_ID and CROWDSTRIKE_CLIENT_SECRET)']);
  }
  const cloud = CROWDSTRIKE_CLOUDS[(config.CROWDSTRIKE_CLOUD ?? 'us-1') as CrowdStrikeCloud];
  return {
    baseUrl: (config.CROWDSTRIKE_BASE_URL ?? cloud.api).replace(/\/+$/, ''),
    clientId: config.CROWDSTRIKE_CLIENT_ID as string,
    clientSecret: config.CROWDSTRIKE_CLIENT_SECRET as string,
    verifyTls: config.CROWDSTRIKE_VERIFY_TLS === 'true',
    consoleUrl: (config.CROWDSTRIKE_CONSOLE_URL ?? cloud.console).replace(/\/+$/, ''),
    maxRetryAfterMs: config.CROWDSTRIKE_MAX_RETRY_AFTER_SECONDS * 1000,
  };
}
