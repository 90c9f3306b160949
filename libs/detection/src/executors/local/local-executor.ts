import { ChildProcess, spawn } from 'node:child_process';
import { realpathSync } from 'node:fs';
import { posix } from 'node:path';
import { ConnectorError, DetectionConnector, SearchOutcome, SearchRequest } from '../../connectors/connector';
import { CommandResult, judgeCommandResult, outputRuleOf } from '../output-rule';
import { CommandLineError, LOCAL_COMMAND_SYNTAX, splitCommandLine } from './command-line';
import { LocalExecutorSettings } from './local-executor-settings';

/** Everything a command sees of the environment: none of the worker's variables (broker passwords, tokens…). */
export const LOCAL_EXECUTOR_ENV: Readonly<Record<string, string>> = Object.freeze({
  PATH: '/usr/local/bin:/usr/bin:/bin',
  LANG: 'C.UTF-8',
});

/**
 * Runs the task's command on the worker's own host: an allowlisted program with its arguments, without a shell
 * (see "Local executor" in libs/detection/README.md). The command's exit code and output are judged by the task's `detection_config.match`
 * ({@link outputRuleOf}). A command the allowlist does not hold, or that cannot be started, is a final error; the
 * search's signal (its timeout) kills the command's whole process group.
 */
export class LocalExecutor implements DetectionConnector {
  readonly name = 'local';
  readonly syntax = LOCAL_COMMAND_SYNTAX;

  constructor(private readonly settings: LocalExecutorSettings) {}

  async search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome> {
    // a malformed rule or command fails before anything runs
    const rule = outputRuleOf(request.task.detection_config as Record<string, unknown> | undefined);
    const [program, ...args] = this.argvOf(request.query);
    const run = await this.run(program, args, signal);
    const outcome = await judgeCommandResult(run.result, rule);
    if (!run.truncated) return outcome;
    // a command stopped early has no exit code and may not have printed yet what it would have found
    if (outcome.eventsFound === 0) {
      throw new ConnectorError(`local: ${program} printed more than ${this.settings.maxOutputBytes} bytes and was killed before it finished`, false);
    }
    // first, so the worker's cut of the raw output keeps it
    return { ...outcome, rawOutput: `[output truncated at ${this.settings.maxOutputBytes} bytes: the command was killed]\n${outcome.rawOutput}` };
  }

  /** The command line as argv, its program resolved against the allowlist; refuses anything else. */
  private argvOf(commandLine: string): string[] {
    let argv: string[];
    try {
      argv = splitCommandLine(commandLine);
    } catch (error) {
      if (error instanceof CommandLineError) throw refused(error.message);
      throw error;
    }
    if (argv.length === 0) throw refused('the command is empty');
    if (argv.some((arg) => arg.includes('\u0000'))) throw refused('the command holds a NUL character');
    const processInfo = argv.slice(1).find((arg) => this.reachesProcessInfo(arg));
    if (processInfo !== undefined) {
      throw refused(`the argument ${JSON.stringify(processInfo.slice(0, 100))} reaches /proc (where the environment and memory of processes, the worker's secrets among them, can be read)`);
    }
    return [this.resolveProgram(argv[0]), ...argv.slice(1)];
  }

  /**
   * Whether an argument names something under /proc: as written (`/proc/1/environ`, `--file=/proc/self/environ`,
   * `../proc/…`), relative to the working directory, or through a symlink (`/dev/fd/../environ`, a link to
   * /proc/<pid>/environ); `/` holds /proc, so a recursive read of it is refused too. Commands may run as the
   * worker's own user (a worker that is not root cannot switch), which can read its /proc/<pid>/environ.
   */
  private reachesProcessInfo(arg: string): boolean {
    if (/(?:^|\/)proc(?:\/|$)/.test(arg)) return true;
    const candidates = [arg, arg.slice(arg.indexOf('=') + 1)].filter((path) => path !== '');
    return candidates.some((path) => {
      if (isUnderProc(posix.resolve(this.settings.cwd, path))) return true;
      try {
        // not normalised first: `/dev/fd/..` is /proc/self, not /dev
        return isUnderProc(realpathSync.native(path.startsWith('/') ? path : `${this.settings.cwd}/${path}`));
      } catch {
        return false;
      }
    });
  }

  /**
   * An absolute path must be on the allowlist as written; a bare name (`grep`) stands for the one allowlisted program
   * with that name. Relative paths and `..` are refused, so nothing outside the list can be reached.
   */
  private resolveProgram(program: string): string {
    if (program.split('/').includes('..')) throw refused(`the program ${program} holds "..": give its absolute path`);
    if (program.startsWith('/')) {
      if (this.settings.allowlist.includes(program)) return program;
      throw refused(`the program ${program} is not on LOCAL_EXECUTOR_ALLOWLIST`);
    }
    if (program.includes('/')) throw refused(`the program ${program} is a relative path: give its absolute path`);
    const candidates = this.settings.allowlist.filter((path) => posix.basename(path) === program);
    if (candidates.length === 1) return candidates[0];
    if (candidates.length === 0) throw refused(`the program ${program} is not on LOCAL_EXECUTOR_ALLOWLIST`);
    throw refused(`the program name ${program} is ambiguous on LOCAL_EXECUTOR_ALLOWLIST (${candidates.join(', ')}): give its absolute path`);
  }

  /** Runs one command to its end, until the signal aborts it, or until its output passes the cap. */
  private run(program: string, args: string[], signal: AbortSignal): Promise<{ result: CommandResult; truncated: boolean }> {
    if (signal.aborted) return Promise.reject(signal.reason);
    return new Promise((resolve, reject) => {
      let child: ChildProcess;
      try {
        child = spawn(program, args, {
          shell: false,
          env: { ...LOCAL_EXECUTOR_ENV },
          cwd: this.settings.cwd,
          stdio: ['ignore', 'pipe', 'pipe'],
          // its own process group, so a kill reaches whatever the command started too
          detached: true,
          // a root worker runs commands as an unprivileged user: /proc/1/environ and the worker's own are then unreadable
          ...(this.settings.runAs && { uid: this.settings.runAs.uid, gid: this.settings.runAs.gid }),
          windowsHide: true,
        });
      } catch (error) {
        reject(cannotStart(program, error));
        return;
      }
      const stdout: Buffer[] = [];
      const stderr: Buffer[] = [];
      let bytesLeft = this.settings.maxOutputBytes;
      let truncated = false;
      let settled = false;
      const settle = (finish: () => void) => {
        if (settled) return;
        settled = true;
        signal.removeEventListener('abort', onAbort);
        finish();
      };
      const onAbort = () => {
        killGroup(child);
        settle(() => reject(signal.reason));
      };
      const collect = (into: Buffer[]) => (chunk: Buffer) => {
        if (truncated) return;
        if (chunk.length > bytesLeft) {
          into.push(chunk.subarray(0, bytesLeft));
          bytesLeft = 0;
          truncated = true;
          killGroup(child);
          return;
        }
        into.push(chunk);
        bytesLeft -= chunk.length;
      };
      child.stdout?.on('data', collect(stdout));
      child.stderr?.on('data', collect(stderr));
      signal.addEventListener('abort', onAbort, { once: true });
      child.on('error', (error) => settle(() => reject(cannotStart(program, error))));
      // the program has ended: end what it left running in its group too, so its pipes close
      child.on('exit', () => killGroup(child));
      child.on('close', (exitCode) => {
        settle(() => resolve({ result: { exitCode: truncated ? null : exitCode, output: outputOf(stdout, stderr) }, truncated }));
      });
    });
  }
}

/** stdout, then stderr, each line whole. */
function outputOf(stdout: Buffer[], stderr: Buffer[]): string {
  const out = Buffer.concat(stdout).toString('utf8');
  const err = Buffer.concat(stderr).toString('utf8');
  if (out === '' || err === '') return out + err;
  return out.endsWith('\n') ? out + err : `${out}\n${err}`;
}

/** /proc, what is under it, and `/`, which holds it (`grep -r PASSWORD /` reads /proc/1/environ too). */
function isUnderProc(path: string): boolean {
  return path === '/' || path === '/proc' || path.startsWith('/proc/');
}

function killGroup(child: ChildProcess): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    // the group is gone already
  }
}

function refused(reason: string): ConnectorError {
  return new ConnectorError(`local: ${reason}; nothing was run`, false);
}

function cannotStart(program: string, error: unknown): ConnectorError {
  const code = (error as NodeJS.ErrnoException)?.code;
  return new ConnectorError(`local: cannot start ${program}${code ? ` (${code})` : ''}`, false);
}
