import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, IsUrl, Max, Min, MinLength } from 'class-validator';
import { CommonEnv } from '@purple/platform';

/** The caldera-bridge's variables: every app's, and where Caldera is, how to reach it and how often to ask. */
export class CalderaBridgeEnv extends CommonEnv {
  /** Caldera's base URL, e.g. http://caldera.example:8888 (no credentials in it: the key is CALDERA_API_KEY) */
  @IsUrl(
    { protocols: ['http', 'https'], require_protocol: true, require_tld: false, disallow_auth: true },
    { message: 'CALDERA_URL must be an http(s) URL without credentials' },
  )
  CALDERA_URL!: string;

  /** sent as Caldera's `KEY` header; the red (or blue) API key from Caldera's conf/local.yml */
  @IsString()
  @MinLength(1)
  CALDERA_API_KEY!: string;

  /** `false` accepts a self-signed certificate (labs only) */
  @IsIn(['true', 'false'])
  CALDERA_VERIFY_TLS = 'true';

  /** how often Caldera is asked for finished links */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  CALDERA_BRIDGE_POLL_INTERVAL_MS = 10_000;

  /** only these operations (comma-separated ids or names); all of them when unset */
  @IsOptional()
  @IsString()
  CALDERA_BRIDGE_OPERATIONS?: string;

  /** how long one request to Caldera may take */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(600_000)
  CALDERA_REQUEST_TIMEOUT_MS = 30_000;
}

/** The bridge's settings, read once from CalderaBridgeEnv. */
export interface BridgeSettings {
  calderaUrl: string;
  apiKey: string;
  verifyTls: boolean;
  pollIntervalMs: number;
  requestTimeoutMs: number;
  /** operation ids or names to bridge; empty: all */
  operations: string[];
}

export const BRIDGE_SETTINGS = Symbol('BRIDGE_SETTINGS');

export function bridgeSettingsOf(env: CalderaBridgeEnv): BridgeSettings {
  return {
    calderaUrl: env.CALDERA_URL.replace(/\/+$/, ''),
    apiKey: env.CALDERA_API_KEY,
    verifyTls: env.CALDERA_VERIFY_TLS === 'true',
    pollIntervalMs: env.CALDERA_BRIDGE_POLL_INTERVAL_MS,
    requestTimeoutMs: env.CALDERA_REQUEST_TIMEOUT_MS,
    operations: (env.CALDERA_BRIDGE_OPERATIONS ?? '')
      .split(',')
      .map((name) => name.trim())
      .filter(Boolean),
  };
}
