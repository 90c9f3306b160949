import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ConfigError, loadConfig } from '@purple/platform';

const HTTP_URL = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;
const GUID = /^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$/;

/**
 * The Microsoft Sentinel (Log Analytics) connector's environment. Without any of SENTINEL_WORKSPACE_ID, _TENANT_ID,
 * _CLIENT_ID or _CLIENT_SECRET the connector is not registered (tasks: `unsupported`).
 */
export class SentinelEnv {
  /** the Entra ID tenant of the app registration: its id (GUID) or a domain such as contoso.onmicrosoft.com */
  @IsOptional()
  @Matches(/^[A-Za-z0-9][A-Za-z0-9.-]*$/, { message: 'SENTINEL_TENANT_ID must be a tenant id or domain' })
  SENTINEL_TENANT_ID?: string;

  /** the app registration (service principal) with the Log Analytics Reader role on the workspace */
  @IsOptional()
  @IsString()
  SENTINEL_CLIENT_ID?: string;

  @IsOptional()
  @IsString()
  SENTINEL_CLIENT_SECRET?: string;

  /** the Log Analytics workspace behind Sentinel: its Workspace ID (a GUID, on the workspace's Overview page) */
  @IsOptional()
  @Matches(GUID, { message: 'SENTINEL_WORKSPACE_ID must be the workspace id (a GUID)' })
  SENTINEL_WORKSPACE_ID?: string;

  /** Entra ID; another cloud's (e.g. https://login.microsoftonline.us) or a test server */
  @Matches(HTTP_URL, { message: 'SENTINEL_AUTHORITY_URL must be an http(s) URL without a query' })
  SENTINEL_AUTHORITY_URL = 'https://login.microsoftonline.com';

  /** the Log Analytics query API; another cloud's (e.g. https://api.loganalytics.us) or a test server */
  @Matches(HTTP_URL, { message: 'SENTINEL_API_URL must be an http(s) URL without a query' })
  SENTINEL_API_URL = 'https://api.loganalytics.io';

  /** the scope the token is asked for: the API's resource (another cloud's, e.g. https://api.loganalytics.us/.default) */
  @IsString()
  SENTINEL_TOKEN_SCOPE = 'https://api.loganalytics.io/.default';

  /** `false` accepts a self-signed certificate (a lab proxy only) */
  @IsIn(['true', 'false'])
  SENTINEL_VERIFY_TLS = 'true';

  /** a link for evidence rows that carry none of their own (`AlertLink`), e.g. the workspace's Logs page in the portal */
  @IsOptional()
  @Matches(/^https?:\/\/[^\s/?#]+\S*$/, { message: 'SENTINEL_PORTAL_URL must be an http(s) URL' })
  SENTINEL_PORTAL_URL?: string;

  /** the longest Retry-After (429/503) waited for within one search */
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(3600)
  SENTINEL_MAX_RETRY_AFTER_SECONDS = 30;
}

export interface SentinelSettings {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  workspaceId: string;
  authorityUrl: string;
  apiUrl: string;
  scope: string;
  verifyTls: boolean;
  portalUrl?: string;
  maxRetryAfterMs: number;
}

const REQUIRED = ['SENTINEL_TENANT_ID', 'SENTINEL_CLIENT_ID', 'SENTINEL_CLIENT_SECRET', 'SENTINEL_WORKSPACE_ID'] as const;

/** The connector's settings, undefined when Sentinel is not configured; throws ConfigError naming what is wrong. */
export function loadSentinelSettings(env: NodeJS.ProcessEnv): SentinelSettings | undefined {
  const config = loadConfig(SentinelEnv, env);
  if (REQUIRED.every((name) => config[name] === undefined)) return undefined;
  const missing = REQUIRED.filter((name) => config[name] === undefined);
  if (missing.length > 0) throw new ConfigError(missing.map((name) => `${name} is missing: the Sentinel connector is configured`));
  for (const name of ['SENTINEL_AUTHORITY_URL', 'SENTINEL_API_URL'] as const) {
    if (new URL(config[name]).username !== '') throw new ConfigError([`${name} must not contain credentials`]);
  }
  return {
    tenantId: config.SENTINEL_TENANT_ID as string,
    clientId: config.SENTINEL_CLIENT_ID as string,
    clientSecret: config.SENTINEL_CLIENT_SECRET as string,
    workspaceId: config.SENTINEL_WORKSPACE_ID as string,
    authorityUrl: config.SENTINEL_AUTHORITY_URL.replace(/\/+$/, ''),
    apiUrl: config.SENTINEL_API_URL.replace(/\/+$/, ''),
    scope: config.SENTINEL_TOKEN_SCOPE,
    verifyTls: config.SENTINEL_VERIFY_TLS === 'true',
    ...(config.SENTINEL_PORTAL_URL !== undefined && { portalUrl: config.SENTINEL_PORTAL_URL }),
    maxRetryAfterMs: config.SENTINEL_MAX_RETRY_AFTER_SECONDS * 1000,
  };
}
