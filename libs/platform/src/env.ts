import { Type } from 'class-transformer';
import { requireEnv } from './config';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';

/** Variables every app reads. The broker password is per role (see @purple/messaging). */
export class CommonEnv {
  @Matches(/^postgres(ql)?:\/\/.+/, { message: 'DATABASE_URL must be a postgres:// URL' })
  DATABASE_URL!: string;

  @IsString()
  RABBITMQ_HOST = '127.0.0.1';

  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(65535)
  RABBITMQ_PORT = 5672;

  /** Test runs only: suffix for vhosts and prefix for users, so runs share a broker without colliding. */
  @IsOptional()
  @Matches(/^[a-z][a-z0-9]{0,15}$/)
  BROKER_NAMESPACE?: string;

  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL = 'info';

  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT?: number;

  /** How long a SIGTERM waits for in-flight work before the process exits anyway. */
  @Type(() => Number)
  @IsInt()
  @Min(1000)
  SHUTDOWN_TIMEOUT_MS = 25_000;

  /** the environment this config was read from (set by loadConfig) */
  declare readonly source?: NodeJS.ProcessEnv;

  /** A variable whose name is only known at run time, such as the app's broker password, from the same source. */
  required(name: string): string {
    return requireEnv(name, this.source ?? process.env);
  }
}
