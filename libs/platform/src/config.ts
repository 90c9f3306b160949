import { plainToInstance } from 'class-transformer';
import { validateSync } from 'class-validator';
import { refuseDevelopmentSecrets } from './development-secrets';

/** Start-up stops here, naming every variable that is missing or malformed. */
export class ConfigError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration: ${problems.join('; ')}`);
    this.name = 'ConfigError';
  }
}

/**
 * Reads and validates environment variables into a typed config class. Property names are the variable names,
 * so every class-validator message names the variable (`DATABASE_URL must be a URL address`).
 */
export function loadConfig<T extends object>(cls: new () => T, env: NodeJS.ProcessEnv = process.env): T {
  const raw: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (v !== undefined && v !== '') raw[k] = v;
  const config = plainToInstance(cls, raw, { exposeDefaultValues: true, enableImplicitConversion: true });
  const errors = validateSync(config, { forbidUnknownValues: false });
  if (errors.length > 0) {
    throw new ConfigError(
      errors.map((e) =>
        raw[e.property] === undefined
          ? `${e.property} is missing`
          : `${e.property} is malformed (${Object.values(e.constraints ?? {}).join(', ')})`,
      ),
    );
  }
  refuseDevelopmentSecrets(env);
  // kept for variables whose names are only known at run time (see CommonEnv.required)
  Object.defineProperty(config, 'source', { value: env, enumerable: false });
  return config;
}

/** A variable whose name is only known at run time, such as the app's broker password. */
export function requireEnv(name: string, env: NodeJS.ProcessEnv = process.env): string {
  const value = env[name];
  if (value === undefined || value === '') throw new ConfigError([`${name} is missing`]);
  return value;
}
