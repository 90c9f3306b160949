import 'reflect-metadata';
import { ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '@purple/platform';
import { ConnectorRegistry } from '../src/connectors/registry';
import { LocalExecutor } from '../src/executors/local/local-executor';
import { loadLocalExecutorSettings, LocalExecutorSettings } from '../src/executors/local/local-executor-settings';
import { systemClock } from '../src/semantics/clock';
import { RunDetection } from '../src/semantics/run-detection';
import { connectorFailure, minimalTask, searchRequest } from '../src/testing';
import { AnswerDetectionTask } from '../src/worker/answer-detection-task';
import { REDACTED, secretValuesOf, withoutSecrets } from '../src/worker/secret-values';
import { DetectionWorkerEnv, workerSettingsOf } from '../src/worker/worker-settings';

jest.setTimeout(20_000);

/*
 * Issue 12 item 1: an allowlisted reader (`grep`, `cat`) must not hand the worker's secrets to a detection. Each
 * layer is tested on its own: the /proc refusal, the unprivileged user (CI runs as root), and the scrubbing of the
 * response.
 */

const SECRET = `s3cret-${process.pid}-${Date.now()}`;
const isRoot = process.getuid?.() === 0;

/** A process whose environment holds a secret, as the worker's own does (its /proc/<pid>/environ). */
function processWithSecret(): ChildProcess {
  return spawn('/bin/sleep', ['60'], { env: { PATH: '/usr/bin:/bin', BROKER_PASSWORD: SECRET }, stdio: 'ignore' });
}

function agentTask(command: string, originalCommand = 'whoami') {
  return minimalTask({ detectionType: 'agent', platform: 'linux', connector: 'local', queryType: 'command', content: command, originalCommand });
}

describe('the local executor keeps the worker’s secrets from commands', () => {
  let dir: string;
  let settings: LocalExecutorSettings;
  let holder: ChildProcess;

  beforeAll(() => {
    holder = processWithSecret();
  });
  afterAll(() => {
    holder.kill('SIGKILL');
  });
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-secrets-'));
    chmodSync(dir, 0o755);
    settings = loadLocalExecutorSettings({
      LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/grep,/bin/cat,/usr/bin/id,/bin/sh',
      LOCAL_EXECUTOR_CWD: dir,
    }) as LocalExecutorSettings;
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  const search = (executor: LocalExecutor, command: string) => executor.search(searchRequest(command, { task: agentTask(command) }), new AbortController().signal);

  it('refuses every argument that reaches /proc, however it is written, and runs nothing', async () => {
    const executor = new LocalExecutor(settings);
    symlinkSync(`/proc/${holder.pid}/environ`, join(dir, 'innocent.txt'));
    const fromRoot = new LocalExecutor({ ...settings, cwd: '/' });
    const attempts: Array<[LocalExecutor, string]> = [
      [executor, 'grep -a PASSWORD /proc/1/environ'],
      [executor, `grep -a PASSWORD /proc/${process.pid}/environ`],
      [executor, `grep -a PASSWORD /proc/${holder.pid}/environ`],
      [executor, 'grep -a PASSWORD /proc/self/environ'],
      [executor, `cat /proc/${holder.pid}/environ`],
      [executor, `grep -a --file=/proc/${holder.pid}/environ /dev/null`],
      [executor, `grep -a PASSWORD ../../proc/${holder.pid}/environ`],
      [executor, 'grep -a PASSWORD /dev/fd/../environ'],
      [executor, `grep -a PASSWORD ${join(dir, 'innocent.txt')}`],
      [fromRoot, `grep -a PASSWORD proc/${holder.pid}/environ`],
      [fromRoot, 'grep -a PASSWORD proc/1/environ'],
      // `/` holds /proc: a recursive grep of it would read every environ
      [executor, 'grep -r -a PASSWORD /'],
      [executor, 'grep -r -a PASSWORD ../..'],
    ];
    for (const [runner, command] of attempts) {
      const error = await connectorFailure(search(runner, command)).catch((failure: Error) => new Error(`${command}: ${failure.message}`));
      expect(error).toMatchObject({ retryable: false });
      expect(error.message).toMatch(/^local: the argument ".*" reaches \/proc .*; nothing was run$/);
      expect(error.message).not.toContain(SECRET);
    }
  });

  it('runs commands as an unprivileged user when the worker is root, so /proc/<pid>/environ is unreadable anyway', async () => {
    if (!isRoot) {
      // a worker that is not root cannot switch user: it runs commands as itself, and the refusal above is the guard
      expect(settings.runAs).toBeUndefined();
      expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/id', LOCAL_EXECUTOR_USER: 'root' })).toThrow(/LOCAL_EXECUTOR_USER/);
      return;
    }
    expect(settings.runAs).toMatchObject({ user: 'nobody' });
    const executor = new LocalExecutor(settings);
    expect((await search(executor, '/usr/bin/id -u')).rawOutput).toBe(`exit code 0\n${settings.runAs?.uid}\n`);
    // even with a shell allowlisted (never do that) and the path hidden from the refusal, the kernel says no
    for (const pid of ['1', String(process.pid), String(holder.pid)]) {
      const outcome = await search(executor, `/bin/sh -c "P=/pr; /usr/bin/grep -a PASSWORD \${P}oc/${pid}/environ"`);
      expect(outcome.rawOutput).not.toContain(SECRET);
      expect(outcome.rawOutput).toMatch(/Permission denied/);
    }
    // a root-only file too
    const file = join(dir, 'secret.env');
    writeFileSync(file, `BROKER_PASSWORD=${SECRET}\n`, { mode: 0o600 });
    const outcome = await search(executor, `/bin/cat ${file}`);
    expect(outcome.rawOutput).not.toContain(SECRET);
    expect(outcome.rawOutput).toMatch(/Permission denied/);
  });

  it('refuses a working directory of / or under /proc, where a recursive read without a path would start', () => {
    for (const cwd of ['/', '/proc', `/proc/${process.pid}`]) {
      expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/grep', LOCAL_EXECUTOR_CWD: cwd })).toThrow(/LOCAL_EXECUTOR_CWD must not be \/ or under \/proc/);
    }
  });

  it('refuses LOCAL_EXECUTOR_USER naming root or nobody at all, naming the variable', () => {
    if (!isRoot) return expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/id', LOCAL_EXECUTOR_USER: 'root' })).toThrow(/LOCAL_EXECUTOR_USER can name another user only when/);
    expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/id', LOCAL_EXECUTOR_USER: 'root' })).toThrow(/LOCAL_EXECUTOR_USER must not be root/);
    expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/id', LOCAL_EXECUTOR_USER: '0' })).toThrow(/LOCAL_EXECUTOR_USER must not be root/);
    expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/id', LOCAL_EXECUTOR_USER: 'no-such-user-xyz' })).toThrow(/LOCAL_EXECUTOR_USER names no user/);
  });

  it('publishes no secret: an allowlisted grep of /proc/1/environ, and a command echoing a secret, through the worker', async () => {
    const secretEnv = { DATABASE_URL: `postgres://checking:${SECRET}-db@127.0.0.1/x`, BROKER_PASSWORD: SECRET, RABBITMQ_URL: `amqp://w:${SECRET}-mq@h:5672` };
    const workerSettings = workerSettingsOf('agent-worker', 'agent', loadConfig(DetectionWorkerEnv, secretEnv), secretEnv);
    const answer = new AnswerDetectionTask(new ConnectorRegistry([new LocalExecutor(settings)]), new RunDetection(systemClock), workerSettings, systemClock);
    const shutdown = new AbortController().signal;

    for (const pid of ['1', String(process.pid), String(holder.pid)]) {
      const response = await answer.execute(agentTask(`/usr/bin/grep -a PASSWORD /proc/${pid}/environ`), shutdown);
      expect(response.status).toBe('error');
      expect(response.error).toMatch(/reaches \/proc/);
      expect(JSON.stringify(response)).not.toContain(SECRET);
    }

    // a reported command holding the secrets, echoed back: the output and the evidence say [redacted]
    const echoed = `x ${SECRET} ${secretEnv.DATABASE_URL} y`;
    const executor = new LocalExecutor({ ...settings, allowlist: [...settings.allowlist, '/bin/echo'] });
    const echo = new AnswerDetectionTask(new ConnectorRegistry([executor]), new RunDetection(systemClock), workerSettings, systemClock);
    const response = await echo.execute(agentTask('/bin/echo {{command}}', echoed), shutdown);
    expect(response.status).toBe('detected');
    expect(JSON.stringify(response)).not.toContain(SECRET);
    expect(response.results.raw_output).toBe(`exit code 0\nx ${REDACTED} ${REDACTED} y\n`);
    expect(response.evidence?.[0]?.id).toBe(`x ${REDACTED} ${REDACTED} y`);
  });
});

describe('secretValuesOf / withoutSecrets', () => {
  it('takes secret-named variables and URL passwords, longest first, and skips flags and short values', () => {
    const secrets = secretValuesOf(
      { CALDERA_API_KEY: 'key-abcdef', SPLUNK_TOKEN: 'tok-123456', WEBHOOK_SECRET_REQUIRED: 'true', SHORT_PASSWORD: 'abc', LOG_LEVEL: 'debug' },
      { RABBITMQ_URL: 'amqp://user:p%40ssw0rd!@host:5672', DATABASE_URL: 'postgres://u:dbpass99@h/db' },
      ['header-token-xyz'],
    );
    expect(secrets).toEqual(
      expect.arrayContaining(['key-abcdef', 'tok-123456', 'p%40ssw0rd!', 'p@ssw0rd!', 'postgres://u:dbpass99@h/db', 'dbpass99', 'header-token-xyz']),
    );
    expect(secrets).not.toContain('true');
    expect(secrets).not.toContain('abc');
    expect(secrets).not.toContain('debug');
    expect(secrets[0]).toBe('postgres://u:dbpass99@h/db');
    expect(withoutSecrets('url=postgres://u:dbpass99@h/db pw=dbpass99 k=key-abcdef', secrets)).toBe(`url=${REDACTED} pw=${REDACTED} k=${REDACTED}`);
  });
});
