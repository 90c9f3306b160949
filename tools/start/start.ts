import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { APP_NAMES } from '@purple/topology';
import { REPO_ROOT, loadDevEnv } from '../env';
import { ensureManagementApi } from './management-plugin';
import { DEFAULT_POLICY, Supervisor } from './supervisor';

/**
 * `npm start`: provision the broker, migrate the database, build, then run the apps (the caldera-bridge only when
 * CALDERA_URL names a Caldera to poll) with each log line prefixed by its app. An app that exits unexpectedly is
 * restarted with exponential backoff, as a container restart policy would, and the others keep running. Ctrl-C (or
 * SIGTERM) stops them all cleanly.
 */
const env = loadDevEnv();
// the apps write to a pipe here: pretty lines only when a person reads this terminal
if (process.stdout.isTTY && !env['LOG_FORMAT']) env['LOG_FORMAT'] = 'pretty';
// the caldera-bridge is for a Caldera that does not publish its results itself: without CALDERA_URL it has nothing to do
const apps = APP_NAMES.filter((app) => app !== 'caldera-bridge' || env['CALDERA_URL']);
const COLOURS = [36, 32, 33, 35, 34, 96, 92];
const width = Math.max('supervisor'.length, ...apps.map((a) => a.length));

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
  const managementUrl = env['RABBITMQ_MANAGEMENT_URL'] || 'http://127.0.0.1:15672';
  if ((await ensureManagementApi(managementUrl)) === 'enabled') console.log(`\n▶ enabled RabbitMQ's management plugin (${managementUrl})`);
  await step('provisioning RabbitMQ', tsNode[0], [...tsNode.slice(1), 'tools/provision/main.ts']);
  await step('migrating PostgreSQL', tsNode[0], [...tsNode.slice(1), 'tools/migrate/main.ts']);
  await step('building the apps', join(REPO_ROOT, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '--projects', apps.join(','), '--outputStyle=static']);

  console.log('\n▶ running all apps (Ctrl-C stops them; an app that exits is restarted with backoff)\n');
  const colourOf = new Map<string, number>(apps.map((app, i) => [app, COLOURS[i % COLOURS.length]]));
  const supervisor = new Supervisor(
    // LOG_LEVEL etc. come from the environment; each app picks its own default port
    apps.map((app) => ({ name: app, command: process.execPath, args: [join(REPO_ROOT, 'dist/apps', app, 'main.js')], cwd: REPO_ROOT, env })),
    DEFAULT_POLICY,
    {
      log: (line) => process.stdout.write(`${'supervisor'.padEnd(width)} | ${line}\n`),
      spawned: (app, child) => prefixLines(child, app, colourOf.get(app) ?? 0),
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
