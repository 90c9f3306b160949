import { ChildProcess, spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { join } from 'node:path';
import { APP_NAMES } from '@purple/topology';
import { REPO_ROOT, loadDevEnv } from '../env';

/**
 * `npm start`: provision the broker, migrate the database, build, then run the apps (the caldera-bridge only when
 * CALDERA_URL names a Caldera to poll) with each log line prefixed by its app. Ctrl-C (or SIGTERM) stops them all
 * cleanly; if one app dies, the others are stopped too.
 */
const env = loadDevEnv();
// the caldera-bridge is for a Caldera that does not publish its results itself: without CALDERA_URL it has nothing to do
const apps = APP_NAMES.filter((app) => app !== 'caldera-bridge' || env['CALDERA_URL']);
const COLOURS = [36, 32, 33, 35, 34, 96, 92];
const width = Math.max(...apps.map((a) => a.length));

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
  await step('provisioning RabbitMQ', tsNode[0], [...tsNode.slice(1), 'tools/provision/main.ts']);
  await step('migrating PostgreSQL', tsNode[0], [...tsNode.slice(1), 'tools/migrate/main.ts']);
  await step('building the apps', join(REPO_ROOT, 'node_modules/.bin/nx'), ['run-many', '-t', 'build', '--projects', apps.join(','), '--outputStyle=static']);

  console.log('\n▶ running all apps (Ctrl-C stops them)\n');
  const children = new Map<string, ChildProcess>();
  let stopping = false;
  const stopAll = (signal: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    for (const child of children.values()) child.kill(signal);
  };

  apps.forEach((app, i) => {
    // LOG_LEVEL etc. come from the environment; each app picks its own default port
    const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/apps', app, 'main.js')], {
      cwd: REPO_ROOT,
      env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    children.set(app, child);
    prefixLines(child, app, COLOURS[i % COLOURS.length]);
    child.on('exit', (code, signal) => {
      children.delete(app);
      process.stdout.write(`${app.padEnd(width)} | exited (${signal ?? `code ${code}`})\n`);
      if (!stopping) {
        process.exitCode = 1;
        stopAll('SIGTERM');
      }
      if (children.size === 0) process.exit();
    });
  });

  process.on('SIGINT', () => stopAll('SIGTERM'));
  process.on('SIGTERM', () => stopAll('SIGTERM'));
}

main().catch((error: Error) => {
  console.error(error.message);
  process.exit(1);
});
