import { MIGRATE_DATABASE_URL, applyGrants, checkedDatabaseUrl, credentialsOf, runMigrations } from '@purple/persistence';
import { refuseDevelopmentSecrets } from '@purple/platform';
import { Client } from 'pg';
import { loadDevEnv } from '../env';

/**
 * `npm run migrate`: as the schema's owner (MIGRATE_DATABASE_URL, role purple_owner), applies pending migrations, then
 * makes every app's privileges exactly TABLE_GRANTS (libs/persistence/src/grants.ts). The roles and the database come
 * from `npm run provision`.
 */
async function main(): Promise<void> {
  const env = loadDevEnv();
  const url = checkedDatabaseUrl(MIGRATE_DATABASE_URL, env);
  // its own secret only: the broker's development passwords that .env.example fills in are not this tool's business
  refuseDevelopmentSecrets({ NODE_ENV: env['NODE_ENV'], ALLOW_DEVELOPMENT_SECRETS: env['ALLOW_DEVELOPMENT_SECRETS'], [MIGRATE_DATABASE_URL]: url });
  await databaseExists(url);
  const ran = await runMigrations(url);
  console.log(ran.length ? `applied ${ran.length} migration(s): ${ran.join(', ')}` : 'schema is up to date; nothing to apply');
  const namespace = env['BROKER_NAMESPACE'] || undefined;
  for (const line of await applyGrants(url, { namespace })) console.log(`granted ${line}`);
}

/** A clear message instead of PostgreSQL's when provisioning has not run yet. */
async function databaseExists(url: string): Promise<void> {
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  try {
    await client.connect();
  } catch (error) {
    const code = (error as { code?: string }).code;
    if (code === '3D000' || code === '28000' || code === '28P01') {
      throw new Error(`cannot connect as ${credentialsOf(url).user} to database ${credentialsOf(url).database} (${(error as Error).message}): run npm run provision first`);
    }
    throw error;
  } finally {
    await client.end().catch(() => undefined);
  }
}

main().catch((error: Error) => {
  console.error(`migrate failed: ${error.message}`);
  process.exit(1);
});
