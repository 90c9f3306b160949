import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { DEFAULT_HTTP_PORTS } from '@purple/messaging';
import { APP_NAMES } from '@purple/topology';
import { REPO_ROOT, loadDevEnv } from '../env';
import { ensureManagementApi } from './management-plugin';
import { DEFAULT_POLICY, Supervisor, replicaCommands } from './supervisor';

/**
 * `npm start`: provision the broker, migrate the database, build, then run the apps (the caldera-bridge only when
 * CALDERA_URL names a Caldera to poll) with each log line prefixed by its app. An app that exits unexpectedly is
 * restarted with exponential backoff, as a container restart policy would, and the others keep running. Ctrl-C (or
 * SIGTERM) stops them all cleanly. `--replicas N` runs N processes of each app (`api#2`: port 3100, `api#3`: 3200 …),
 * as the production overlay does: every effect must still happen once.
 */
const env = loadDevEnv();
// the apps write to a pipe here: pretty lines only when a person reads this terminal
if (process.stdout.isTTY && !env['LOG_FORMAT']) env['LOG_FORMAT'] = 'pretty';
const replicasAt = process.argv.indexOf('--replicas');
const replicas = replicasAt >= 0 ? Number(process.argv[replicasAt + 1]) : 1;
if (!Number.isInteger(replicas) || replicas < 1 || replicas > 9) {
  console.error('usage: npm start [-- --replicas N]   (N from 1 to 9)');
  process.exit(2);
}
// the caldera-bridge is for a Caldera that does not publish its results itself: without CALDERA_URL it has nothing to do
const apps = APP_NAMES.filter((app) => app !== 'caldera-bridge' || env['CALDERA_URL']);
const COLOURS = [36, 32, 33, 35, 34, 96, 92];
const width = Math.max('supervisor'.length, ...apps.map((a) => a.length + (replicas > 1 ? 2 : 0)));

function step(title: string, command: string, args: string[]): Promise<void> {
  console.log(`\n▶ ${title}`);
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: REPO_ROOT, env, stdio: 'inherit' });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${title} failed (exit ${code})`))));
  });
}

function prefixLines(child: ChildProcess, app: string, colour: number): void {
  const prefix = process.stdout.isTTY ? `\x1b[${colour}m${app.padEnd(width)}\x1b[0m | ` : `${app.padEnd(width)} | `;
  for (const stream of [child.stdout, child.stderr]) {
    if (!stream) continue;
    createInterface({ input: stream }).on('line', (line) => process.stdout.write(`${prefix}${line}\n`));
  }
}

async function main(): Promise<void> {
  const tsNode = [join(REPO_ROOT, 'node_modules/.bin/ts-node'), '-P', 'tools/tsconfig.json'];
  // a fresh single local broker has the plugin off; a cluster's several APIs are provisioning's to try in turn
  const managementUrl = env['RABBITMQ_MANAGEMENT_URL'] || 'http://127.0.0.1:15672';
  if (!managementUrl.includes(',') && (await ensureManagementApi(managementUrl)) === 'enabled') {
    console.log(`\n▶ enabled RabbitMQ's management plugin (${managementUrl})`);
  }
  await step('provisioning RabbitMQ', tsNode[0], [...tsNode.slice(1), 'tools/provision/main.ts']);
  await step('migrating PostgreSQL', tsNode[0], [...tsNode.slice(1), 'tools/migrate/main.ts']);
  await step('building the apps', join(REPO_ROOT, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '--projects', apps.join(','), '--outputStyle=static']);

  console.log(`\n▶ running all apps${replicas > 1 ? `, ${replicas} replicas each` : ''} (Ctrl-C stops them; an app that exits is restarted with backoff)\n`);
  const colourOf = new Map<string, number>(apps.map((app, i) => [app, COLOURS[i % COLOURS.length]]));
  const commands = replicaCommands(
    // LOG_LEVEL etc. come from the environment; each app picks its own default port
    apps.map((app) => ({ name: app, command: process.execPath, args: [join(REPO_ROOT, 'dist/apps', app, 'main.js')], cwd: REPO_ROOT, env })),
    replicas,
    (name) => DEFAULT_HTTP_PORTS[name as keyof typeof DEFAULT_HTTP_PORTS],
  );
  const supervisor = new Supervisor(
    commands,
    DEFAULT_POLICY,
    {
      log: (line) => process.stdout.write(`${'supervisor'.padEnd(width)} | ${line}\n`),
      spawned: (app, child) => prefixLines(child, app, colourOf.get(app.split('#')[0]) ?? 0),
    },
  );
  supervisor.start();

  const stop = () => void supervisor.stop().then(() => process.exit());
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
