import { Client } from 'pg';
import type { Cleanup } from '../cleanup';

/**
 * A PostgreSQL connection of the run, ended by its cleanup. Its `error` events are logged: the cleanup drops the
 * database, and the server then ends any session still open with "terminating connection due to administrator
 * command", which, with no listener, pg throws at the process.
 */
export async function sqlConnection(url: string, what: string, cleanup: Cleanup, log: (line: string) => void): Promise<Client> {
  const client = new Client({ connectionString: url });
  client.on('error', (error) => log(`${what}: ${error.message}`));
  // registered before connecting, so an interruption during the connect still ends it
  cleanup.add(what, () => client.end());
  await client.connect();
  return client;
}
