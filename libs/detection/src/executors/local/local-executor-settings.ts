import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';
import { statSync } from 'node:fs';
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
}

export interface LocalExecutorSettings {
  /** absolute, normalised paths */
  allowlist: string[];
  maxOutputBytes: number;
  cwd: string;
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
  if (problems.length > 0) throw new ConfigError(problems);
  return { allowlist: [...new Set(entries)], maxOutputBytes: config.LOCAL_EXECUTOR_MAX_OUTPUT_BYTES, cwd };
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
