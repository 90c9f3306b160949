import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, ValidateBy, ValidateIf } from 'class-validator';
import { accessSync, constants, statSync } from 'node:fs';
import { requireEnv } from './config';

/**
 * Variables every app reads. The broker password is per role (see @purple/messaging), and so is the database URL
 * (`<APP>_DATABASE_URL`, see @purple/persistence): the detection workers have none.
 */
export class CommonEnv {
  @IsString()
  RABBITMQ_HOST = '127.0.0.1';

  /** unset: 5671 with RABBITMQ_TLS, else 5672 (see brokerPort) */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  RABBITMQ_PORT?: number;

  /** AMQP over TLS (amqps), the server's certificate verified against the system's CAs or RABBITMQ_CA_FILE */
  @Transform(({ obj }) => parseBoolean((obj as Record<string, unknown>)['RABBITMQ_TLS']))
  @IsBoolean({ message: 'RABBITMQ_TLS must be true or false' })
  RABBITMQ_TLS = false;

  /** a PEM bundle of the CAs that sign the broker's certificate (a private CA); only with RABBITMQ_TLS=true */
  @ValidateIf((env: CommonEnv) => env.RABBITMQ_CA_FILE !== undefined)
  @ValidateBy({ name: 'tlsOnly', validator: { validate: (_: unknown, args) => (args?.object as CommonEnv).RABBITMQ_TLS === true, defaultMessage: () => 'RABBITMQ_CA_FILE needs RABBITMQ_TLS=true' } })
  @ValidateBy({ name: 'readableFile', validator: { validate: isReadableFile, defaultMessage: () => 'RABBITMQ_CA_FILE must be a readable file' } })
  RABBITMQ_CA_FILE?: string;

  /** Test runs only: suffix for vhosts and prefix for users, so runs share a broker without colliding. */
  @IsOptional()
  @Matches(/^[a-z][a-z0-9]{0,15}$/)
  BROKER_NAMESPACE?: string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  /** `pretty` for people (pino-pretty), `json` for collectors; unset: pretty when stdout is a terminal */
  @IsOptional()
  @IsIn(['json', 'pretty'])
  LOG_FORMAT?: 'json' | 'pretty';

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT?: number;

  /** /metrics on this port instead of PORT, so the public port does not serve it (0: any free port) */
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  @ValidateBy({ name: 'notPort', validator: { validate: (port: number, args) => port === 0 || port !== (args?.object as CommonEnv).PORT, defaultMessage: () => 'METRICS_PORT must differ from PORT' } })
  METRICS_PORT?: number;

  /** How long a SIGTERM waits for in-flight work before the process exits anyway. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  SHUTDOWN_TIMEOUT_MS = 25_000;

  /** the environment this config was read from (set by loadConfig) */
  declare readonly source?: NodeJS.ProcessEnv;

  get brokerPort(): number {
    return this.RABBITMQ_PORT ?? (this.RABBITMQ_TLS ? 5671 : 5672);
  }

  /** A variable whose name is only known at run time, such as the app's broker password, from the same source. */
  required(name: string): string {
    return requireEnv(name, this.source ?? process.env);
  }
}

function parseBoolean(value: unknown): unknown {
  if (value === undefined || value === false || value === 'false') return false;
  if (value === true || value === 'true') return true;
  return value;
}

function isReadableFile(path: unknown): boolean {
  if (typeof path !== 'string') return false;
  try {
    accessSync(path, constants.R_OK);
    return statSync(path).isFile();
  } catch {
    return false;
  }
}
