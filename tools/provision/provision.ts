import { writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import {
  MissingPasswordError,
  NAMESPACE_PATTERN,
  ProvisionError,
  buildTopology,
  passwordsFromEnv,
  provision,
  toDefinitions,
} from '@purple/topology';
import { PROVISION_DATABASE_URL, checkedDatabaseUrl, databaseProvisioningFromEnv, provisionDatabase } from '@purple/persistence';
import { ConfigError } from '@purple/platform';
import { loadEnvFiles } from './env';

/**
 * `npm run provision`: applies both vhosts' topology through the management HTTP API, idempotently, or with
 * `--export FILE` writes it as a definitions.json without contacting the broker.
 *
 * The engine (`provision`, `deprovision`) lives in @purple/topology so that @purple/testing can provision a
 * namespace per test run (libraries may not depend on tools); it is re-exported here.
 */
export { provision, passwordsFromEnv, ProvisionError, MissingPasswordError };
export {
  deprovision,
  type ProvisionOptions,
  type ProvisionReport,
  type DeprovisionOptions,
  type Change,
} from '@purple/topology';

export const DEFAULT_MANAGEMENT_URL = 'http://127.0.0.1:15672';
export const REPO_ROOT = resolve(__dirname, '..', '..');

export const USAGE = `usage: npm run provision [-- --export FILE] [-- --database-only] [-- --namespace NS]

  Applies the RabbitMQ topology (vhosts /caldera_checking and /soar, users, permissions, topic permissions,
  limits, exchanges, quorum queues, bindings, policies) through the management HTTP API, then, when
  PROVISION_DATABASE_URL is set, creates PostgreSQL's roles (purple_owner and one per app) and the database.
  Idempotent. Table privileges follow the migrations: npm run migrate applies them.

  --export FILE     write definitions.json for compose/Kubernetes instead (does not contact the broker)
  --database-only   PostgreSQL only (compose, whose broker loads the exported definitions)
  --namespace NS    tests only: suffix vhosts and prefix users with NS (also BROKER_NAMESPACE)

environment (real environment, then .env, then .env.example):
  RABBITMQ_MANAGEMENT_URL   default ${DEFAULT_MANAGEMENT_URL}
  RABBITMQ_ADMIN_USER       bootstrap administrator, default guest
  RABBITMQ_ADMIN_PASSWORD   default guest
  <USER>_PASSWORD           each user's password, e.g. CALDERA_PUBLISHER_PASSWORD
  PROVISION_DATABASE_URL    a PostgreSQL administrator (superuser, or CREATEROLE and CREATEDB); unset: no database step
  MIGRATE_DATABASE_URL, <APP>_DATABASE_URL
                            the owner's and each app's role and password, and the database (e.g. API_DATABASE_URL)

exit codes: 0 done, 1 broker or provisioning failure, 2 usage or configuration error`;

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

class UsageError extends Error {}

function parseArgs(argv: string[]): { exportFile?: string; namespace?: string; help: boolean; databaseOnly: boolean } {
  const args: { exportFile?: string; namespace?: string; help: boolean; databaseOnly: boolean } = { help: false, databaseOnly: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = a.includes('=') ? a.slice(a.indexOf('=') + 1) : argv[++i];
      if (!v) throw new UsageError(`${a.split('=')[0]} needs a value`);
      return v;
    };
    if (a === '--help' || a === '-h') args.help = true;
    else if (a === '--export' || a.startsWith('--export=')) args.exportFile = value();
    else if (a === '--database-only') args.databaseOnly = true;
    else if (a === '--namespace' || a.startsWith('--namespace=')) args.namespace = value();
    else throw new UsageError(`unknown argument ${a}`);
  }
  return args;
}

/** The whole CLI, returning the exit code; `main.ts` only wires it to the process. */
export async function runProvisionCli(
  argv: string[],
  env: NodeJS.ProcessEnv = process.env,
  io: CliIo = { out: (l) => console.log(l), err: (l) => console.error(l) },
  root = REPO_ROOT,
): Promise<number> {
  try {
    const args = parseArgs(argv);
    if (args.help) {
      io.out(USAGE);
      return 0;
    }
    loadEnvFiles(root, env);
    const namespace = args.namespace ?? (env.BROKER_NAMESPACE || undefined);
    if (namespace !== undefined && !NAMESPACE_PATTERN.test(namespace)) {
      throw new UsageError(`namespace must match ${NAMESPACE_PATTERN}`);
    }
    if (args.databaseOnly) {
      const adminUrl = checkedDatabaseUrl(PROVISION_DATABASE_URL, env);
      await provisionDatabase(adminUrl, databaseProvisioningFromEnv(env, { namespace }), io.out);
      return 0;
    }
    const topology = buildTopology({ namespace });
    const passwords = passwordsFromEnv(topology, env);
    // checked before the broker is touched, like the broker's passwords
    const databaseAdminUrl = env[PROVISION_DATABASE_URL] ? checkedDatabaseUrl(PROVISION_DATABASE_URL, env) : undefined;
    const database = databaseAdminUrl ? databaseProvisioningFromEnv(env, { namespace }) : undefined;

    if (args.exportFile) {
      const file = resolve(args.exportFile);
      // password hashes are inside: readable by the owner only
      writeFileSync(file, JSON.stringify(toDefinitions(topology, passwords), null, 2) + '\n', { mode: 0o600 });
      io.out(
        `wrote ${file}: ${topology.vhosts.length} vhosts, ${topology.users.length} users, ${topology.queues.length} queues, ${topology.policies.length} policies`,
      );
      return 0;
    }

    const managementUrl = env.RABBITMQ_MANAGEMENT_URL || DEFAULT_MANAGEMENT_URL;
    io.out(`provisioning ${topology.vhosts.join(', ')}${namespace ? ` (namespace ${namespace})` : ''} via ${safeUrl(managementUrl)}`);
    await provision({
      managementUrl,
      adminUser: env.RABBITMQ_ADMIN_USER || 'guest',
      adminPassword: env.RABBITMQ_ADMIN_PASSWORD || 'guest',
      passwords,
      topology,
      namespace,
      log: io.out,
    });
    if (databaseAdminUrl && database) await provisionDatabase(databaseAdminUrl, database, io.out);
    else io.out(`PostgreSQL: ${PROVISION_DATABASE_URL} is not set; its roles and database were left as they are`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError) {
      io.err(`provision: ${err.message}`);
      io.err(USAGE.split('\n')[0]);
      return 2;
    }
    if (err instanceof ConfigError) {
      io.err(`provision: ${err.problems.join('; ')}`);
      return 2;
    }
    if (err instanceof MissingPasswordError) {
      io.err(`provision: ${err.message}`);
      return 2;
    }
    const message = err instanceof ProvisionError || err instanceof Error ? err.message : String(err);
    io.err(`provision: ${message.replace(/\s+/g, ' ')}`);
    return 1;
  }
}

const safeUrl = (url: string) => url.replace(/\/\/[^@/]*@/, '//');
