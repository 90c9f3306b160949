import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, cpSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { APP_NAMES, AppName } from '@purple/topology';
import { createBrokerNamespace, createTestDatabase, eventually, freePort, databaseEnv } from '@purple/testing';

/**
 * Rehearses docker/Dockerfile's runtime stage for every app without a Docker engine (none runs on CI machines here):
 * the app's webpack bundle (`dist/apps/<app>`, from `nx build`) with only the production dependencies its generated
 * package.json lists, installed from the lock file with npm 10 as in the image, started with `node main.js` as an
 * unprivileged user (uid 65534 when this runs as root) and no other environment than its configuration. Each app must
 * become ready against a broker namespace and database of its own, then exit 0 on SIGTERM. This catches a dependency
 * the bundle needs but the image would not install, and an app that needs to write where the image cannot.
 *   npx ts-node -P tools/tsconfig.json tools/ci/rehearse-images.ts [app ...]
 */
const REPO = resolve(__dirname, '../..');
const NPM_10 = ['--yes', 'npm@10.9.2'];
const UNPRIVILEGED = process.getuid?.() === 0 ? { uid: 65534, gid: 65534 } : {};

/** What each app needs besides the broker and the database (development values, as .env.example). */
const APP_ENV: Partial<Record<AppName, Record<string, string>>> = {
  api: {
    TOKEN_SIGNING_KEY: 'rehearsal-token-signing-key-0123456789abcdef',
    ADMIN_CLIENT_ID: 'admin',
    ADMIN_CLIENT_SECRET: 'rehearsal-admin-secret',
    WEBHOOK_SECRET_KEY: 'rehearsal-webhook-secret-key-0123456789',
  },
  'bus-router': { WEBHOOK_SECRET_KEY: 'rehearsal-webhook-secret-key-0123456789' },
  // nothing answers there: the bridge logs the failed poll and stays ready (it needs only the broker and database)
  'caldera-bridge': { CALDERA_URL: 'http://127.0.0.1:9', CALDERA_API_KEY: 'rehearsal-caldera-key' },
};

async function rehearse(app: AppName, env: Record<string, string>): Promise<void> {
  const bundle = join(REPO, 'dist/apps', app);
  const dir = mkdtempSync(join(tmpdir(), `image-${app}-`));
  try {
    // COPY package.json package-lock.json; RUN npm install --omit=dev; COPY the bundle
    cpSync(join(bundle, 'package.json'), join(dir, 'package.json'));
    cpSync(join(REPO, 'package-lock.json'), join(dir, 'package-lock.json'));
    const install = spawnSync('npx', [...NPM_10, 'install', '--omit=dev', '--no-audit', '--no-fund', '--loglevel=error'], { cwd: dir, encoding: 'utf8' });
    if (install.status !== 0) throw new Error(`${app}: npm install --omit=dev failed:\n${install.stderr}`);
    for (const entry of readdirSync(bundle)) cpSync(join(bundle, entry), join(dir, entry), { recursive: true });
    chmodSync(dir, 0o755);

    const port = await freePort();
    const child = spawn(process.execPath, ['main.js'], {
      cwd: dir,
      env: { NODE_ENV: 'production', PORT: String(port), LOG_LEVEL: 'warn', ...env, ...APP_ENV[app] },
      stdio: ['ignore', 'pipe', 'pipe'],
      ...UNPRIVILEGED,
    });
    let output = '';
    child.stdout.on('data', (d) => (output += d));
    child.stderr.on('data', (d) => (output += d));
    const exited = new Promise<number | null>((done) => child.once('exit', (code) => done(code)));
    try {
      await eventually(
        async () => {
          if (child.exitCode !== null) throw new Error(`exited with ${child.exitCode}`);
          return (await fetch(`http://127.0.0.1:${port}/health/ready`)).status === 200;
        },
        60_000,
        250,
      );
    } catch (error) {
      child.kill('SIGKILL');
      throw new Error(`${app} did not become ready (${(error as Error).message}):\n${output.slice(-3000)}`);
    }
    child.kill('SIGTERM');
    const code = await exited;
    if (code !== 0) throw new Error(`${app} exited with ${code} on SIGTERM:\n${output.slice(-3000)}`);
    const modules = readdirSync(join(dir, 'node_modules')).length;
    console.log(`ok  ${app}: ready with production dependencies only (${modules} top-level packages), as uid ${UNPRIVILEGED.uid ?? process.getuid?.()}, exit 0 on SIGTERM`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  const requested = process.argv.slice(2);
  const unknown = requested.filter((app) => !(APP_NAMES as readonly string[]).includes(app));
  if (unknown.length > 0) throw new Error(`unknown app(s): ${unknown.join(', ')}; apps: ${APP_NAMES.join(', ')}`);
  const apps = requested.length > 0 ? (requested as AppName[]) : [...APP_NAMES];
  const [broker, db] = await Promise.all([createBrokerNamespace(), createTestDatabase()]);
  try {
    const env = { ...broker.env(), ...databaseEnv(db.url) };
    for (const app of apps) await rehearse(app, env);
  } finally {
    await Promise.all([broker.dispose(), db.drop()]);
  }
}

main().catch((error) => {
  console.error(`image rehearsal failed: ${(error as Error).message}`);
  process.exit(1);
});
