import type { ServiceProcess } from '@purple/detection/testing';
import { execFile, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { REPO_ROOT } from '../env';

/**
 * The apps as `npm start` and the containers run them: built once (`nx run-many -t build`, cached by nx), then
 * `node dist/apps/<app>/main.js`. A restart then takes seconds, not the minute ts-node needs on a busy machine:
 * the crash suites restart apps many times.
 */
export function buildApps(apps: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) =>
    execFile(
      join(REPO_ROOT, 'node_modules/.bin/nx'),
      ['run-many', '-t', 'build', '--projects', apps.join(','), '--outputStyle=static'],
      { cwd: REPO_ROOT, env: { ...process.env, NX_DAEMON: 'false' }, timeout: 900_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => (error ? reject(new Error(`building the apps failed:\n${(stderr || stdout).slice(-2000)}`)) : resolve()),
    ),
  );
}

/**
 * Error lines (pino level 50 and up) of every app process started here, restarted ones included, `<app>: <line>`:
 * a long run keeps only each process's recent output, and a 500 or a crash must still be traceable at the end.
 */
export const errorLines: string[] = [];
const ERROR_LINE = /"level":(50|60)\b/;

/** Starts a built app on a free port; resolves once its /health/ready answers 200. */
export async function startBuiltApp(app: string, env: Record<string, string>, readyTimeoutMs: number): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [join(REPO_ROOT, 'dist/apps', app, 'main.js')], {
    cwd: REPO_ROOT,
    env: { PATH: process.env['PATH'], ...env, PORT: String(port) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  let partial = '';
  const keep = (chunk: Buffer) => {
    const complete = (partial + chunk.toString('utf8')).split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete.filter(Boolean));
    for (const line of complete) if (ERROR_LINE.test(line) && errorLines.length < 1000) errorLines.push(`${app}: ${line}`);
    if (lines.length > 2000) lines.splice(0, lines.length - 1000); // a long suite: keep the recent past
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const ended = () => child.exitCode !== null || child.signalCode !== null;
  const service: ServiceProcess = {
    port,
    child,
    output: () => lines.slice(-50).join('\n'),
    lines: () => [...lines],
    kill: async () => {
      if (!ended()) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (!ended()) child.kill('SIGTERM');
      await exited;
    },
  };
  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (ended()) throw new Error(`${app} exited before it was ready:\n${service.output()}`);
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`, { signal: AbortSignal.timeout(2000) }).then(
      (res) => res.status === 200,
      () => false,
    );
    if (ready) return service;
    if (Date.now() > deadline) {
      await service.kill();
      throw new Error(`${app} was not ready within ${readyTimeoutMs} ms:\n${service.output()}`);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** A TCP port nothing listens on right now (globalSetup loads this file without the workspace's path aliases). */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
