import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import type { AppName } from '@purple/topology';

const WORKSPACE_ROOT = join(__dirname, '../../..');

/** An app started from its `main.ts` as a process of its own, as `nx serve` and the containers start it. */
export interface AppRun {
  child: ChildProcess;
  /** everything it wrote to stdout and stderr so far */
  output: () => string;
  /** its exit code (null when a signal ended it) */
  exited: Promise<number | null>;
}

/**
 * Runs `apps/<app>/src/main.ts` with ts-node (transpile only) and exactly `env` (plus PATH): for what is about the
 * process itself — configuration errors, exit codes, signals, what it prints.
 */
export function runApp(app: AppName, env: Record<string, string>): AppRun {
  const child = spawn(process.execPath, ['-r', 'ts-node/register', '-r', 'tsconfig-paths/register', `apps/${app}/src/main.ts`], {
    cwd: WORKSPACE_ROOT,
    env: { PATH: process.env['PATH'], TS_NODE_PROJECT: 'tools/tsconfig.json', TS_NODE_TRANSPILE_ONLY: 'true', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
  return { child, output: () => output, exited };
}

/** A TCP port nothing listens on right now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
