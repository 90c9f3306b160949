import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { posix } from 'node:path';
import { ConfigError, loadConfig } from '@purple/platform';

/**
 * The local executor's environment. Without LOCAL_EXECUTOR_ALLOWLIST (or with an empty one) the executor is not
 * registered and tasks for `local` are answered `unsupported`: running commands on the worker's host is opt-in.
 */
export class LocalExecutorEnv {
  /** comma-separated absolute paths of the programs commands may run, e.g. `/usr/bin/grep,/usr/bin/journalctl` */
  @IsOptional()
  @IsString()
  LOCAL_EXECUTOR_ALLOWLIST?: string;

  /** stdout and stderr together are read up to this many bytes; beyond it the command is killed */
  @Type(() => Number)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  LOCAL_EXECUTOR_MAX_OUTPUT_BYTES = 1024 * 1024;

  /** the working directory of every command (default: the system's temporary directory) */
  @IsOptional()
  @IsString()
  LOCAL_EXECUTOR_CWD?: string;

  /**
   * The user commands run as (a name from /etc/passwd, or a numeric uid). A worker running as root must not hand its
   * rights to a command: it runs them as this user, `nobody` by default. A worker that is not root runs them as
   * itself (it cannot switch), so the variable is then refused unless it names the worker's own user.
   */
  @IsOptional()
  @IsString()
  LOCAL_EXECUTOR_USER?: string;
}

/** The unprivileged user commands run as. */
export interface RunAs {
  user: string;
  uid: number;
  gid: number;
}

export interface LocalExecutorSettings {
  /** absolute, normalised paths */
  allowlist: string[];
  maxOutputBytes: number;
  cwd: string;
  /** set when the worker is root: commands run as this user (never root) */
  runAs?: RunAs;
}

/** The executor's settings, undefined when no program is allowed; throws ConfigError naming what is wrong. */
export function loadLocalExecutorSettings(env: NodeJS.ProcessEnv): LocalExecutorSettings | undefined {
  const config = loadConfig(LocalExecutorEnv, env);
  const entries = (config.LOCAL_EXECUTOR_ALLOWLIST ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '');
  if (entries.length === 0) return undefined;
  const problems: string[] = [];
  entries.forEach((entry, index) => {
    if (!isPlainAbsolutePath(entry) || entry === '/') {
      problems.push(`LOCAL_EXECUTOR_ALLOWLIST entry ${index + 1} is not an absolute path without . or .. segments`);
    }
  });
  const cwd = config.LOCAL_EXECUTOR_CWD ?? tmpdir();
  if (config.LOCAL_EXECUTOR_CWD !== undefined && !(isPlainAbsolutePath(cwd) && isDirectory(cwd))) {
    problems.push('LOCAL_EXECUTOR_CWD must be the absolute path of an existing directory');
  }
  // a command without a file argument (`grep -r PASSWORD`) reads its working directory: never /proc or what holds it
  if (cwd === '/' || cwd === '/proc' || cwd.startsWith('/proc/')) problems.push('LOCAL_EXECUTOR_CWD must not be / or under /proc');
  const runAs = runAsOf(config.LOCAL_EXECUTOR_USER, problems);
  if (problems.length > 0) throw new ConfigError(problems);
  return { allowlist: [...new Set(entries)], maxOutputBytes: config.LOCAL_EXECUTOR_MAX_OUTPUT_BYTES, cwd, ...(runAs && { runAs }) };
}

/** The user to switch to: only a root worker can (and must) switch. */
function runAsOf(configured: string | undefined, problems: string[]): RunAs | undefined {
  const workerUid = process.getuid?.();
  if (workerUid === undefined) return undefined;
  const name = configured?.trim() || 'nobody';
  const user = userOf(name);
  if (workerUid !== 0) {
    if (configured !== undefined && user?.uid !== workerUid) {
      problems.push('LOCAL_EXECUTOR_USER can name another user only when the agent-worker runs as root; leave it unset');
    }
    return undefined;
  }
  if (user === undefined) problems.push(`LOCAL_EXECUTOR_USER names no user of /etc/passwd (${configured === undefined ? 'the default, nobody' : 'set it to one'})`);
  else if (user.uid === 0 || user.gid === 0) problems.push('LOCAL_EXECUTOR_USER must not be root (uid 0) or in group root: commands would read the worker\'s secrets');
  else return user;
  return undefined;
}

/** A user of /etc/passwd by name or numeric uid. */
function userOf(nameOrUid: string): RunAs | undefined {
  let passwd: string;
  try {
    passwd = readFileSync('/etc/passwd', 'utf8');
  } catch {
    return undefined;
  }
  for (const line of passwd.split('\n')) {
    const [user, , uid, gid] = line.split(':');
    if (uid === undefined || gid === undefined || !/^\d+$/.test(uid) || !/^\d+$/.test(gid)) continue;
    if (user === nameOrUid || uid === nameOrUid) return { user, uid: Number(uid), gid: Number(gid) };
  }
  return undefined;
}

/** `/usr/bin/grep`, not `bin/grep`, `./grep`, `/usr/bin/../bin/sh` or `/usr//bin/grep/`. */
export function isPlainAbsolutePath(path: string): boolean {
  return path.startsWith('/') && posix.normalize(path) === path && (path === '/' || !path.endsWith('/'));
}

function isDirectory(path: string): boolean {
  try {
    return statSync(path).isDirectory();
  } catch {
    return false;
  }
}
