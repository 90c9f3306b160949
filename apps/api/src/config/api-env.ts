import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength, ValidateBy, isURL } from 'class-validator';
import { MIN_SIGNING_KEY_LENGTH } from '@purple/auth';
import { CLIENT_ID_PATTERN } from '@purple/contracts';
import { CommonEnv } from '@purple/platform';
import { isIP } from 'node:net';

/** The api's own variables, on top of those every app reads. Property names are the variable names. */
export class ApiEnv extends CommonEnv {
  /** HS256 key for access tokens; every replica must share it */
  @IsString()
  @MinLength(MIN_SIGNING_KEY_LENGTH, { message: `TOKEN_SIGNING_KEY must be at least ${MIN_SIGNING_KEY_LENGTH} characters` })
  TOKEN_SIGNING_KEY!: string;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86_400)
  TOKEN_TTL_SECONDS = 3600;

  /** the first admin, ensured at start (scopes `admin checking:read checking:admin`, no queues) */
  @Matches(CLIENT_ID_PATTERN, { message: 'ADMIN_CLIENT_ID must be a client id: lowercase letters, digits and hyphens' })
  ADMIN_CLIENT_ID!: string;

  @IsString()
  @MinLength(16, { message: 'ADMIN_CLIENT_SECRET must be at least 16 characters' })
  ADMIN_CLIENT_SECRET!: string;

  /** encrypts webhook signing secrets at rest (the bus-router decrypts them with the same key) */
  @IsString()
  @MinLength(16, { message: 'WEBHOOK_SECRET_KEY must be at least 16 characters' })
  WEBHOOK_SECRET_KEY!: string;

  /** webhook URLs may reach private, loopback or link-local addresses (development only) */
  @IsIn(['true', 'false'])
  WEBHOOK_ALLOW_PRIVATE: 'true' | 'false' = 'false';

  /** hosts, `*.domains`, addresses or CIDRs webhooks may reach although they are not public, comma-separated */
  @IsOptional()
  @IsString()
  WEBHOOK_ALLOWLIST?: string;

  /** largest request body (and WebSocket frame) accepted; larger ones get 413 */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(16 * 1024 * 1024)
  MAX_BODY_BYTES = 256 * 1024;

  /** where the api creates and removes clients' queues, as the vhost admin `soar_admin`; several nodes' APIs comma-separated */
  @ValidateBy({
    name: 'urlList',
    validator: {
      validate: (v: unknown) =>
        typeof v === 'string' && v.split(',').filter((u) => u.trim()).length > 0 && v.split(',').filter((u) => u.trim()).every((u) => isURL(u.trim(), { require_tld: false, protocols: ['http', 'https'] })),
      defaultMessage: () => 'RABBITMQ_MANAGEMENT_URL must be an http(s) URL, or several comma-separated',
    },
  })
  RABBITMQ_MANAGEMENT_URL = 'http://127.0.0.1:15672';

  @IsString()
  SOAR_ADMIN_PASSWORD!: string;

  /** failed logins per client id within the window before POST /token answers 429 */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  LOGIN_MAX_FAILURES_PER_CLIENT = 5;

  /** failed logins per source address within the window before POST /token answers 429 */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  LOGIN_MAX_FAILURES_PER_IP = 20;

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(86_400)
  LOGIN_FAILURE_WINDOW_SECONDS = 300;

  /**
   * Per-client send quota (POST /send, /notify and WebSocket frames), on each api replica: messages per second
   * (with a burst of as many) and request bytes published but not yet confirmed by the broker. Over either, 429 with
   * Retry-After, before a queue fills and the broker has to refuse.
   */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(100_000)
  SEND_RATE_PER_SECOND = 200;

  /** at least MAX_BODY_BYTES, so that one message of the largest size can always be sent */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024 * 1024)
  SEND_BYTES_IN_FLIGHT = 16 * 1024 * 1024;

  /**
   * The reverse proxies (ingress) in front of the api, comma-separated: addresses, CIDRs, or `loopback`,
   * `linklocal`, `uniquelocal`. X-Forwarded-For is believed only from them, so the failed-login limit counts the
   * real caller; without it every caller behind an ingress shares the ingress's address.
   */
  @IsOptional()
  @IsString()
  TRUSTED_PROXIES?: string;

  /** messages in flight to one WebSocket before the broker waits for their acks */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  STREAM_PREFETCH = 10;

  /** WebSocket streams one client may hold open at once (per replica); one more is refused with 429 */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  STREAM_MAX_PER_CLIENT = 4;

  /** GET /receive requests (long-polls included) one client may have under way at once (per replica) */
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(1000)
  RECEIVE_MAX_CONCURRENT_PER_CLIENT = 4;

  /** how often open streams re-check their token, so a rotated secret or a deleted client ends them within that */
  @Type(() => Number)
  @IsInt()
  @Min(100)
  @Max(60_000)
  STREAM_TOKEN_RECHECK_MS = 2000;

  /** Swagger UI at /docs and the OpenAPI document at /docs-json; unset: only when NODE_ENV=development */
  @IsOptional()
  @IsIn(['true', 'false'], { message: 'EXPOSE_DOCS must be true or false' })
  EXPOSE_DOCS?: 'true' | 'false';

  get docsExposed(): boolean {
    return this.EXPOSE_DOCS === undefined ? (this.source ?? process.env)['NODE_ENV'] === 'development' : this.EXPOSE_DOCS === 'true';
  }

  get trustedProxies(): string[] {
    return (this.TRUSTED_PROXIES ?? '')
      .split(',')
      .map((entry) => entry.trim())
      .filter(Boolean);
  }
}

const PROXY_NAMES = ['loopback', 'linklocal', 'uniquelocal'];

/** The TRUSTED_PROXIES entries that are neither an address, a CIDR nor one of the names Express knows. */
export function malformedProxies(entries: string[]): string[] {
  return entries.filter((entry) => {
    if (PROXY_NAMES.includes(entry)) return false;
    const [address, prefix, extra] = entry.split('/');
    const version = isIP(address);
    if (version === 0 || extra !== undefined) return true;
    return prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= (version === 4 ? 32 : 128));
  });
}
