import { ConfigError } from './config';

/**
 * The secret values `.env.example` ships for development. An app that finds one of them is running with a secret
 * everybody knows, so it refuses to start unless NODE_ENV=development or ALLOW_DEVELOPMENT_SECRETS=true.
 * (`RABBITMQ_ADMIN_PASSWORD=guest` is not here: no app reads it, and the broker itself refuses `guest` off loopback.)
 */
export const DEVELOPMENT_SECRETS: Readonly<Record<string, string>> = {
  TOKEN_SIGNING_KEY: 'dev-token-signing-key-change-me-0123456789',
  ADMIN_CLIENT_SECRET: 'dev-admin-client-secret',
  WEBHOOK_SECRET_KEY: 'dev-webhook-secret-key-change-me',
  CALDERA_ADMIN_PASSWORD: 'dev-caldera-admin',
  CALDERA_PUBLISHER_PASSWORD: 'dev-caldera-publisher',
  CHECKING_CONSUMER_PASSWORD: 'dev-checking-consumer',
  CHECKING_DISPATCHER_PASSWORD: 'dev-checking-dispatcher',
  CHECKING_WORKER_PASSWORD: 'dev-checking-worker',
  CHECKING_RESULT_CONSUMER_PASSWORD: 'dev-checking-result-consumer',
  MONITOR_USER_PASSWORD: 'dev-monitor-user',
  SOAR_ADMIN_PASSWORD: 'dev-soar-admin',
  SOAR_API_PASSWORD: 'dev-soar-api',
  SOAR_ROUTER_PASSWORD: 'dev-soar-router',
};

/**
 * The database passwords `.env.example` ships, inside each role's URL (`<WHO>_DATABASE_URL`): refused the same way,
 * by the password in the URL.
 */
export const DEVELOPMENT_DATABASE_PASSWORDS: Readonly<Record<string, string>> = {
  MIGRATE_DATABASE_URL: 'dev-db-owner',
  API_DATABASE_URL: 'dev-db-api',
  BUS_ROUTER_DATABASE_URL: 'dev-db-bus-router',
  CALDERA_CONSUMER_DATABASE_URL: 'dev-db-caldera-consumer',
  DISPATCHER_DATABASE_URL: 'dev-db-dispatcher',
  RESULT_CONSUMER_DATABASE_URL: 'dev-db-result-consumer',
  CALDERA_BRIDGE_DATABASE_URL: 'dev-db-caldera-bridge',
};

const passwordIn = (url: string | undefined): string | undefined => {
  if (!url) return undefined;
  try {
    return decodeURIComponent(new URL(url).password);
  } catch {
    return undefined;
  }
};

/** True when the environment says development secrets are acceptable. */
export const developmentSecretsAllowed = (env: NodeJS.ProcessEnv): boolean =>
  env['NODE_ENV'] === 'development' || env['ALLOW_DEVELOPMENT_SECRETS'] === 'true';

/** @throws ConfigError naming every variable that holds its development value (never the value) */
export function refuseDevelopmentSecrets(env: NodeJS.ProcessEnv): void {
  if (developmentSecretsAllowed(env)) return;
  const found = [
    ...Object.entries(DEVELOPMENT_SECRETS).filter(([name, value]) => env[name] === value),
    ...Object.entries(DEVELOPMENT_DATABASE_PASSWORDS).filter(([name, value]) => passwordIn(env[name]) === value),
  ].map(([name]) => name);
  if (found.length === 0) return;
  throw new ConfigError(
    found.map(
      (name) =>
        `${name} holds the development value from .env.example: set a secret of your own (development only: NODE_ENV=development or ALLOW_DEVELOPMENT_SECRETS=true)`,
    ),
  );
}
