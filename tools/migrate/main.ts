import { ensureDatabase, runMigrations } from '@purple/persistence';
import { loadDevEnv } from '../env';

/** `npm run migrate`: creates the database if needed and applies pending migrations. */
async function main(): Promise<void> {
  const url = loadDevEnv()['DATABASE_URL'];
  if (!url) throw new Error('DATABASE_URL is missing');
  if (await ensureDatabase(url)) console.log(`created database ${new URL(url).pathname.slice(1)}`);
  const ran = await runMigrations(url);
  console.log(ran.length ? `applied ${ran.length} migration(s): ${ran.join(', ')}` : 'schema is up to date; nothing to apply');
}

main().catch((error: Error) => {
  console.error(`migrate failed: ${error.message}`);
  process.exit(1);
});
