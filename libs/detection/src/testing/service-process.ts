import { ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { resolve } from 'node:path';

const WORKSPACE_ROOT = resolve(__dirname, '../../../..');

/**
 * An app running in a process of its own, from its TypeScript sources. Tests use it for a second instance of an
 * app (golevelup keeps its connections in a static registry, so two instances of an app in one process close each
 * other's connections) and to kill an instance outright, as a crash would.
 */
export interface ServiceProcess {
  readonly port: number;
  readonly child: ChildProcess;
  /** the process's last output lines, for failure messages */
  output(): string;
  /** every line the process has written (JSON log lines, one each) */
  lines(): string[];
  /** SIGKILL: no shutdown hooks, no acks; the broker takes back what it had delivered */
  kill(): Promise<void>;
  /** SIGTERM: the app's graceful shutdown */
  stop(): Promise<void>;
}

/**
 * Starts `apps/<app>/src/main.ts` with ts-node (transpile only) and `env`, and resolves once its /health/ready
 * answers 200. When `signal` aborts first (the caller is being cleaned up), the process is killed and the start
 * rejects.
 */
export async function startServiceProcess(
  app: string,
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
  signal?: AbortSignal,
): Promise<ServiceProcess> {
  const port = await freePort();
  const child = spawn(
    process.execPath,
    ['-r', 'ts-node/register/transpile-only', '-r', 'tsconfig-paths/register', `apps/${app}/src/main.ts`],
    {
      cwd: WORKSPACE_ROOT,
      env: { ...process.env, ...env, PORT: String(port), TS_NODE_PROJECT: `apps/${app}/tsconfig.app.json` },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const lines: string[] = [];
  let partial = '';
  const keep = (chunk: Buffer) => {
    const text = partial + chunk.toString('utf8');
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    lines.push(...complete.filter(Boolean));
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const service: ServiceProcess = {
    port,
    child,
    output: () => lines.slice(-50).join('\n'),
    lines: () => [...lines],
    kill: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };

  const deadline = Date.now() + readyTimeoutMs;
  for (;;) {
    if (signal?.aborted) {
      await service.kill();
      throw new Error(`${app}: start abandoned (aborted) before it was ready`);
    }
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`${app} exited before it was ready:\n${service.output()}`);
    }
    const ready = await fetch(`http://127.0.0.1:${port}/health/ready`).then(
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

function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

/**
 * Starts several apps at once, each in a process of its own. When one does not become ready, the others are stopped
 * before the error is thrown, so a failed start leaves no process behind.
 */
export async function startServiceProcesses<A extends string>(
  apps: readonly A[],
  env: Record<string, string>,
  readyTimeoutMs = 60_000,
): Promise<Record<A, ServiceProcess>> {
  const started = await Promise.allSettled(apps.map((app) => startServiceProcess(app, env, readyTimeoutMs)));
  const failed = started.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
  if (failed) {
    await Promise.all(started.map((outcome) => (outcome.status === 'fulfilled' ? outcome.value.stop() : undefined)));
    throw failed.reason;
  }
  return Object.fromEntries(apps.map((app, i) => [app, (started[i] as PromiseFulfilledResult<ServiceProcess>).value])) as Record<A, ServiceProcess>;
}
