import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './process';

/**
 * A PostgreSQL server of its own on this machine, for tests that stop the database: the shared server
 * (127.0.0.1:5432) serves other engineers and CI steps and must never be stopped by a test. `initdb` and `pg_ctl`
 * run as the `postgres` OS user in a temp dir, on a free port, with trust authentication on 127.0.0.1 only.
 * `dispose()` stops it and removes its directory: nothing else is touched.
 */
export interface PrivatePostgres {
  readonly port: number;
  /** `postgres://postgres@127.0.0.1:<port>`: append `/<database>` */
  readonly serverUrl: string;
  readonly dir: string;
  /** `pg_ctl stop -m fast`: sessions are ended, the server is down until start() */
  stop(): Promise<void>;
  start(): Promise<void>;
  running(): Promise<boolean>;
  dispose(): Promise<void>;
}

const PG_BIN = '/usr/lib/postgresql/15/bin';
const PG_USER = 'postgres';

function asPostgres(program: string, args: string[], timeoutMs = 120_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('runuser', ['-u', PG_USER, '--', join(PG_BIN, program), ...args], { timeout: timeoutMs, cwd: '/' }, (error, stdout, stderr) =>
      error ? reject(new Error(`${program} ${args[0] ?? ''} failed: ${(stderr || stdout || error.message).trim()}`)) : resolve(stdout),
    );
  });
}

export async function startPrivatePostgres(options: { log?: (line: string) => void } = {}): Promise<PrivatePostgres> {
  const log = options.log ?? (() => undefined);
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), `faults-pg-${randomBytes(3).toString('hex')}-`));
  const data = join(dir, 'data');
  const uid = Number(await execText('id', ['-u', PG_USER]));
  const gid = Number(await execText('id', ['-g', PG_USER]));
  chownSync(dir, uid, gid);

  const pgCtl = (action: 'start' | 'stop' | 'status') =>
    asPostgres('pg_ctl', [
      action,
      '-D',
      data,
      '-w',
      '-t',
      '60',
      ...(action === 'start'
        ? ['-l', join(dir, 'server.log'), '-o', `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200`]
        : []),
      ...(action === 'stop' ? ['-m', 'fast'] : []),
    ]);
  const running = () => pgCtl('status').then(
    () => true,
    () => false,
  );
  let disposed = false;
  const server: PrivatePostgres = {
    port,
    serverUrl: `postgres://postgres@127.0.0.1:${port}`,
    dir,
    async stop() {
      await pgCtl('stop');
      log(`private postgres on ${port}: stopped`);
    },
    async start() {
      await pgCtl('start');
      log(`private postgres on ${port}: started`);
    },
    running,
    async dispose() {
      if (disposed) return;
      disposed = true;
      if (await running()) await pgCtl('stop').catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    await asPostgres('initdb', ['-D', data, '-A', 'trust', '-U', PG_USER, '--no-sync', '-E', 'UTF8']);
    await server.start();
  } catch (error) {
    await server.dispose();
    throw error;
  }
  return server;
}

function execText(command: string, args: string[]): Promise<string> {
  return new Promise((resolve, reject) =>
    execFile(command, args, (error, stdout) => (error ? reject(error) : resolve(stdout.trim()))),
  );
}
