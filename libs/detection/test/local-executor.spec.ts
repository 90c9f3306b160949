import { DetectionTaskMessage } from '@purple/contracts';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SearchOutcome } from '../src/connectors/connector';
import { agentExecutorsFromEnv } from '../src/executors/agent-executors';
import { LOCAL_COMMAND_SYNTAX, splitCommandLine } from '../src/executors/local/command-line';
import { LOCAL_EXECUTOR_ENV, LocalExecutor } from '../src/executors/local/local-executor';
import { loadLocalExecutorSettings, LocalExecutorSettings } from '../src/executors/local/local-executor-settings';
import { renderQueryTemplate } from '../src/semantics/query-template';
import { connectorFailure, minimalTask, runOnce, searchRequest } from '../src/testing';

jest.setTimeout(20_000);

/** A task as the dispatcher sends it, its window long closed: RunDetection searches once, at once. */
function agentTask(command: string, config: Record<string, unknown> = {}, originalCommand = 'whoami', timeoutSeconds = 5): DetectionTaskMessage {
  return minimalTask({
    detectionType: 'agent',
    platform: 'linux',
    connector: 'local',
    queryType: 'command',
    content: command,
    timeoutSeconds,
    originalCommand,
    config,
  });
}

/** The executor's own search, with the task's command as it is (no placeholders). */
function search(executor: LocalExecutor, command: string, config: Record<string, unknown> = {}, signal = new AbortController().signal): Promise<SearchOutcome> {
  return executor.search(searchRequest(command, { task: agentTask(command, config) }), signal);
}

/** Pids of the processes (any user) whose command line holds `arg` as one of its arguments. */
function pidsWithArgument(arg: string): number[] {
  const pids: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\u0000');
      if (argv.includes(arg)) pids.push(Number(entry));
    } catch {
      // it ended while we looked
    }
  }
  return pids;
}

async function waitFor(condition: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) return false;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return true;
}

/** A sleep duration no other process on the machine uses, to find this test's processes in /proc. */
const uniqueSeconds = () => `${30 + Math.floor(Math.random() * 1000)}.${process.pid}`;

describe('splitCommandLine', () => {
  it('separates arguments by whitespace, any amount of it', () => {
    expect(splitCommandLine('/usr/bin/grep  -c\tmarker\n /var/log/auth.log ')).toEqual(['/usr/bin/grep', '-c', 'marker', '/var/log/auth.log']);
    expect(splitCommandLine('   ')).toEqual([]);
  });

  it('keeps a double-quoted string as one argument, joined to what touches it; "" is an empty argument', () => {
    expect(splitCommandLine('echo "a b  c" d')).toEqual(['echo', 'a b  c', 'd']);
    expect(splitCommandLine('echo --name="a b"x "" end')).toEqual(['echo', '--name=a bx', '', 'end']);
    expect(splitCommandLine('echo ""')).toEqual(['echo', '']);
  });

  it('reads \\" and \\\\ inside quotes, and keeps any other backslash as it is', () => {
    expect(splitCommandLine('echo "say \\"hi\\" \\\\ done"')).toEqual(['echo', 'say "hi" \\ done']);
    expect(splitCommandLine('grep -E "a\\.b\\d" a\\.b')).toEqual(['grep', '-E', 'a\\.b\\d', 'a\\.b']);
  });

  it('gives shell syntax no meaning', () => {
    expect(splitCommandLine('echo $(id) `id` $HOME a;b | c && d > f < g * ~ \'x y\'')).toEqual([
      'echo', '$(id)', '`id`', '$HOME', 'a;b', '|', 'c', '&&', 'd', '>', 'f', '<', 'g', '*', '~', "'x", "y'",
    ]);
  });

  it('refuses an unclosed quote', () => {
    expect(() => splitCommandLine('echo "abc')).toThrow('the command line has an unclosed double quote');
    expect(() => splitCommandLine('echo "abc\\"')).toThrow('the command line has an unclosed double quote');
  });
});

describe('LOCAL_COMMAND_SYNTAX with the query template', () => {
  const hostile = ['x"; rm -rf / #', '$(id)', '`id`', '--output=/etc/passwd', 'a\\', '\\"', '"', '', ' spaced  out ', 'two\nlines\u0000nul', 'a" "b'];

  // control characters become spaces
  const asArgument = (value: string) => value.split('\n').join(' ').split('\u0000').join(' ');

  it('makes every placeholder value exactly one argument, outside or inside quotes', () => {
    for (const value of hostile) {
      // a bare value starting with "-" would be an option: refused (see query-injection.spec.ts)
      if (value.startsWith('-')) {
        expect(() => renderQueryTemplate('/bin/echo {{v}} end', { v: value }, LOCAL_COMMAND_SYNTAX)).toThrow(/starts with "-"/);
      } else {
        expect(splitCommandLine(renderQueryTemplate('/bin/echo {{v}} end', { v: value }, LOCAL_COMMAND_SYNTAX))).toEqual([
          '/bin/echo',
          asArgument(value),
          'end',
        ]);
      }
      expect(splitCommandLine(renderQueryTemplate('/bin/echo "pre {{v}} post" end', { v: value }, LOCAL_COMMAND_SYNTAX))).toEqual([
        '/bin/echo',
        `pre ${asArgument(value)} post`,
        'end',
      ]);
    }
  });

  it('writes times as ISO 8601', () => {
    expect(LOCAL_COMMAND_SYNTAX.formatTime(new Date(Date.UTC(2025, 0, 10, 12, 0, 4)))).toBe('2025-01-10T12:00:04.000Z');
  });
});

describe('loadLocalExecutorSettings and agentExecutorsFromEnv', () => {
  it('registers nothing without an allowlist, or with an empty one', () => {
    expect(loadLocalExecutorSettings({})).toBeUndefined();
    expect(loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: ' , ' })).toBeUndefined();
    expect(agentExecutorsFromEnv({})).toEqual([]);
  });

  it('reads the allowlist, the output cap (1 MiB by default) and the working directory (the temp dir by default)', () => {
    // a root worker runs commands as nobody (see local-executor-secrets.spec.ts)
    const runAs = process.getuid?.() === 0 ? { runAs: { user: 'nobody', uid: expect.any(Number), gid: expect.any(Number) } } : {};
    expect(loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/usr/bin/grep, /usr/bin/journalctl,/usr/bin/grep' })).toEqual({
      allowlist: ['/usr/bin/grep', '/usr/bin/journalctl'],
      maxOutputBytes: 1024 * 1024,
      cwd: tmpdir(),
      ...runAs,
    });
    expect(loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/bin/echo', LOCAL_EXECUTOR_MAX_OUTPUT_BYTES: '4096', LOCAL_EXECUTOR_CWD: '/usr' })).toEqual({
      allowlist: ['/bin/echo'],
      maxOutputBytes: 4096,
      cwd: '/usr',
      ...runAs,
    });
    const executors = agentExecutorsFromEnv({ LOCAL_EXECUTOR_ALLOWLIST: '/bin/echo' });
    expect(executors.map((executor) => executor.name)).toEqual(['local']);
    expect(executors[0]).toBeInstanceOf(LocalExecutor);
  });

  it('refuses relative paths and .. in the allowlist with a ConfigError naming the variable', () => {
    for (const entry of ['grep', 'bin/grep', './grep', '/usr/bin/../bin/sh', '/usr/bin/./grep', '/usr//bin/grep', '/usr/bin/', '/']) {
      expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: `/bin/echo,${entry}` })).toThrow(
        'Invalid configuration: LOCAL_EXECUTOR_ALLOWLIST entry 2 is not an absolute path without . or .. segments',
      );
    }
    expect(() => agentExecutorsFromEnv({ LOCAL_EXECUTOR_ALLOWLIST: 'grep' })).toThrow(/LOCAL_EXECUTOR_ALLOWLIST entry 1/);
  });

  it('refuses a bad output cap or working directory, naming the variable', () => {
    expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/bin/echo', LOCAL_EXECUTOR_MAX_OUTPUT_BYTES: 'lots' })).toThrow(
      /^Invalid configuration: LOCAL_EXECUTOR_MAX_OUTPUT_BYTES is malformed/,
    );
    for (const cwd of ['tmp', '/nonexistent-dir-for-local-executor']) {
      expect(() => loadLocalExecutorSettings({ LOCAL_EXECUTOR_ALLOWLIST: '/bin/echo', LOCAL_EXECUTOR_CWD: cwd })).toThrow(
        'Invalid configuration: LOCAL_EXECUTOR_CWD must be the absolute path of an existing directory',
      );
    }
  });
});

describe('LocalExecutor running real programs', () => {
  let dir: string;
  let settings: LocalExecutorSettings;
  let executor: LocalExecutor;

  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'local-executor-'));
    writeFileSync(join(dir, 'auth.log'), 'Jan 10 sshd[1]: Accepted key for bob\nJan 10 sshd[2]: Failed password for root link-42\n');
    settings = {
      allowlist: ['/usr/bin/grep', '/bin/echo', '/usr/bin/env', '/bin/sleep', '/usr/bin/yes', '/bin/cat', '/bin/pwd', '/usr/bin/touch'],
      maxOutputBytes: 1024 * 1024,
      cwd: dir,
    };
    executor = new LocalExecutor(settings);
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  describe('verdicts', () => {
    it('detects by exit code (the default rule: 0), keeping the output as raw output and evidence', async () => {
      const outcome = await search(executor, `/usr/bin/grep -c link-42 ${dir}/auth.log`);
      expect(outcome).toEqual({ eventsFound: 1, events: [{ id: '1' }], rawOutput: 'exit code 0\n1\n' });
    });

    it('misses when the exit code is not the one asked for', async () => {
      const outcome = await search(executor, `/usr/bin/grep -c link-99 ${dir}/auth.log`, { match: { exit_code: 0 } });
      expect(outcome).toEqual({ eventsFound: 0, events: [], rawOutput: 'exit code 1\n0\n' });
    });

    it('detects by an output line matching a regular expression, with the matching lines as evidence', async () => {
      const config = { match: { output_matches: '^jan \\d+ sshd\\[\\d+\\]: failed password for (\\w+)', output_flags: 'i' } };
      const outcome = await search(executor, `/usr/bin/grep sshd ${dir}/auth.log`, config);
      expect(outcome.eventsFound).toBe(1);
      expect(outcome.events).toEqual([{ id: 'Jan 10 sshd[2]: Failed password for root link-42' }]);

      const miss = await search(executor, `/usr/bin/grep Accepted ${dir}/auth.log`, config);
      expect(miss).toMatchObject({ eventsFound: 0, events: [] });
    });

    it('answers error with the reason when output_matches backtracks past its deadline, the event loop free meanwhile', async () => {
      writeFileSync(join(dir, 'long.log'), `${'a'.repeat(64)}!\n`);
      let ticks = 0;
      const ticker = setInterval(() => (ticks += 1), 10);
      const outcome = await runOnce(
        executor,
        agentTask(`/bin/cat ${dir}/long.log`, { match: { output_matches: '^(\\w+\\s?)+$' } }),
      ).finally(() => clearInterval(ticker));
      expect(outcome).toMatchObject({ status: 'error', searches: 1 });
      expect(outcome.error).toMatch(/^detection_config\.match\.output_matches did not finish within 2000 ms .*simplify the pattern/);
      // ~200 ticks in 2 s when the loop is free; a pattern on the loop would have held it for hours
      expect(ticks).toBeGreaterThanOrEqual(50);
    });

        it('judges stderr after stdout', async () => {
      const outcome = await search(executor, `/usr/bin/grep x ${dir}/missing.log`, { match: { exit_code: 2, output_contains: 'No such file' } });
      expect(outcome.eventsFound).toBe(1);
      expect(outcome.rawOutput).toMatch(/^exit code 2\n.*missing\.log: No such file or directory/);
    });

    it('runs the template through RunDetection: placeholders filled as single arguments, detected and not detected', async () => {
      const detected = await runOnce(executor, agentTask(`/usr/bin/grep -c {{marker}} ${dir}/auth.log`));
      expect(detected).toMatchObject({ status: 'detected', eventsFound: 1, query: `/usr/bin/grep -c "link-42" ${dir}/auth.log` });

      const missed = await runOnce(executor, agentTask(`/usr/bin/grep -c "{{host}}" ${dir}/auth.log`));
      expect(missed).toMatchObject({ status: 'not_detected', eventsFound: 0, rawOutput: 'exit code 1\n0\n' });
    });
  });

  describe('the allowlist', () => {
    it('runs nothing that is not on it, with a final error giving the reason', async () => {
      const created = join(dir, 'created');
      const narrow = new LocalExecutor({ ...settings, allowlist: ['/usr/bin/grep'] });
      for (const [command, reason] of [
        [`/usr/bin/touch ${created}`, 'the program /usr/bin/touch is not on LOCAL_EXECUTOR_ALLOWLIST'],
        [`touch ${created}`, 'the program touch is not on LOCAL_EXECUTOR_ALLOWLIST'],
        [`/bin/touch ${created}`, 'the program /bin/touch is not on LOCAL_EXECUTOR_ALLOWLIST'],
        [`./touch ${created}`, 'the program ./touch is a relative path: give its absolute path'],
        [`usr/bin/touch ${created}`, 'the program usr/bin/touch is a relative path: give its absolute path'],
        [`/usr/bin/../bin/touch ${created}`, 'the program /usr/bin/../bin/touch holds "..": give its absolute path'],
        [`/usr/bin/grep/../touch ${created}`, 'the program /usr/bin/grep/../touch holds "..": give its absolute path'],
      ]) {
        const error = await connectorFailure(search(narrow, command));
        expect(error).toMatchObject({ retryable: false, message: `local: ${reason}; nothing was run` });
      }
      expect(existsSync(created)).toBe(false);
    });

    it('runs a bare name as the one allowlisted program of that name, and refuses an ambiguous one', async () => {
      expect(await search(executor, `grep -c link-42 ${dir}/auth.log`)).toMatchObject({ eventsFound: 1 });

      const twoGreps = new LocalExecutor({ ...settings, allowlist: ['/usr/bin/grep', '/bin/grep'] });
      expect((await connectorFailure(search(twoGreps, 'grep x /dev/null'))).message).toBe(
        'local: the program name grep is ambiguous on LOCAL_EXECUTOR_ALLOWLIST (/usr/bin/grep, /bin/grep): give its absolute path; nothing was run',
      );
      expect(await search(twoGreps, `/bin/grep -c link-42 ${dir}/auth.log`)).toMatchObject({ eventsFound: 1 });
    });

    it('refuses an empty command, an unclosed quote and a malformed rule before running anything', async () => {
      const created = join(dir, 'created');
      expect((await connectorFailure(search(executor, '  '))).message).toBe('local: the command is empty; nothing was run');
      expect((await connectorFailure(search(executor, `/usr/bin/touch "${created}`))).message).toBe(
        'local: the command line has an unclosed double quote; nothing was run',
      );
      expect(await connectorFailure(search(executor, `/usr/bin/touch ${created}`, { match: { exit_code: 'zero' } }))).toMatchObject({
        retryable: false,
        message: 'detection_config.match.exit_code must be an integer or a list of integers',
      });
      expect(existsSync(created)).toBe(false);
    });

    it('answers a program that cannot be started with a final error (ENOENT, EACCES)', async () => {
      const notExecutable = join(dir, 'script.sh');
      writeFileSync(notExecutable, '#!/bin/sh\necho ran\n', { mode: 0o644 });
      const broken = new LocalExecutor({ ...settings, allowlist: ['/nonexistent/bin/prog', notExecutable] });
      expect(await connectorFailure(search(broken, '/nonexistent/bin/prog'))).toMatchObject({
        retryable: false,
        message: 'local: cannot start /nonexistent/bin/prog (ENOENT)',
      });
      expect(await connectorFailure(search(broken, notExecutable))).toMatchObject({ retryable: false, message: `local: cannot start ${notExecutable} (EACCES)` });
    });
  });

  describe('no shell', () => {
    it('passes shell metacharacters in the command as plain text: nothing after ; | && > runs', async () => {
      const touched = join(dir, 'touched');
      const redirected = join(dir, 'redirected');
      const command = `/bin/echo a; /usr/bin/touch ${touched} | /usr/bin/touch ${touched} && /usr/bin/touch ${touched} > ${redirected} $(id) \`id\` $HOME *`;
      const outcome = await search(executor, command);
      expect(outcome.rawOutput).toBe(
        `exit code 0\na; /usr/bin/touch ${touched} | /usr/bin/touch ${touched} && /usr/bin/touch ${touched} > ${redirected} $(id) \`id\` $HOME *\n`,
      );
      expect(existsSync(touched)).toBe(false);
      expect(existsSync(redirected)).toBe(false);
    });

    it('keeps hostile placeholder values as one literal argument each, through RunDetection', async () => {
      const pwned = join(dir, 'pwned');
      for (const value of [`x"; /usr/bin/touch ${pwned} #`, '$(id)', '`id`', '--output=/etc/passwd', `" ${pwned} "`, '\\" ; /usr/bin/touch x']) {
        // the value outside quotes and inside them: echo prints each argument it got, separated by one space
        const outcome = await runOnce(executor, agentTask('/bin/echo [{{command}}] "[{{command}}]"', { match: { output_contains: '[' } }, value));
        expect(outcome).toMatchObject({ status: 'detected', rawOutput: `exit code 0\n[${value}] [${value}]\n` });
      }
      expect(existsSync(pwned)).toBe(false);
    });

    it('gives an injected option to the program as the one argument it is: --output=… is not split or read by a shell', async () => {
      const outcome = await runOnce(executor, agentTask('/usr/bin/grep -c -e {{command}} /dev/null', { match: { exit_code: 1 } }, '--output=/etc/passwd'));
      // grep took the value as its pattern (after -e): one argument, no file written
      expect(outcome).toMatchObject({ status: 'detected', rawOutput: 'exit code 1\n0\n' });
    });
  });

  describe('limits', () => {
    it('kills the command and its process group when the search times out, through RunDetection', async () => {
      const shell = new LocalExecutor({ ...settings, allowlist: [...settings.allowlist, '/bin/sh'] });
      const own = uniqueSeconds();
      const started = uniqueSeconds();
      const began = Date.now();
      const outcome = runOnce(shell, agentTask(`/bin/sh -c "/bin/sleep ${started} & exec /bin/sleep ${own}"`, {}, 'whoami', 1));
      expect(await waitFor(() => pidsWithArgument(own).length === 1 && pidsWithArgument(started).length === 1, 5000)).toBe(true);

      expect(await outcome).toMatchObject({ status: 'error', error: 'local search timed out after 1 s (1 failures in a row)' });
      expect(Date.now() - began).toBeLessThan(3000);
      expect(await waitFor(() => pidsWithArgument(own).length === 0 && pidsWithArgument(started).length === 0, 2000)).toBe(true);
    });

    it('rejects with the signal’s reason when it aborts', async () => {
      const own = uniqueSeconds();
      const controller = new AbortController();
      const searching = search(executor, `/bin/sleep ${own}`, {}, controller.signal);
      expect(await waitFor(() => pidsWithArgument(own).length === 1, 5000)).toBe(true);
      controller.abort(new Error('stop now'));
      await expect(searching).rejects.toThrow('stop now');
      expect(await waitFor(() => pidsWithArgument(own).length === 0, 2000)).toBe(true);
    });

    it('ends what the command left running in the background when it exits', async () => {
      const shell = new LocalExecutor({ ...settings, allowlist: [...settings.allowlist, '/bin/sh'] });
      const background = uniqueSeconds();
      const began = Date.now();
      const outcome = await search(shell, `/bin/sh -c "/bin/sleep ${background} & echo started"`);
      expect(outcome).toMatchObject({ eventsFound: 1, rawOutput: 'exit code 0\nstarted\n' });
      expect(Date.now() - began).toBeLessThan(3000);
      expect(await waitFor(() => pidsWithArgument(background).length === 0, 2000)).toBe(true);
    });

    it('stops reading at the output cap and kills the command: a match in what was read, marked truncated', async () => {
      const capped = new LocalExecutor({ ...settings, maxOutputBytes: 4096 });
      const own = `endless-${process.pid}-${Date.now()}`;
      const outcome = await search(capped, `/usr/bin/yes ${own}`, { match: { output_contains: own } });
      expect(outcome.rawOutput.startsWith('[output truncated at 4096 bytes: the command was killed]\nexit code none (killed)\n')).toBe(true);
      expect(Buffer.byteLength(outcome.rawOutput)).toBeLessThan(4096 + 200);
      expect(outcome.eventsFound).toBeGreaterThan(100);
      expect(await waitFor(() => pidsWithArgument(own).length === 0, 2000)).toBe(true);
    });

    it('answers a capped command without a match as a final error: it cannot say "not detected" about output it did not read', async () => {
      const capped = new LocalExecutor({ ...settings, maxOutputBytes: 4096 });
      expect(await connectorFailure(search(capped, '/usr/bin/yes'))).toMatchObject({
        retryable: false,
        message: 'local: /usr/bin/yes printed more than 4096 bytes and was killed before it finished',
      });
    });

    it('gives the command only PATH and LANG: none of the worker’s variables, such as its broker password', async () => {
      const secret = `worker-secret-${process.pid}`;
      process.env['CHECKING_WORKER_PASSWORD'] = secret;
      try {
        const outcome = await search(executor, '/usr/bin/env');
        expect(outcome.rawOutput.split('\n').slice(1).filter(Boolean).sort()).toEqual(['LANG=C.UTF-8', 'PATH=/usr/local/bin:/usr/bin:/bin']);
        expect(outcome.rawOutput).not.toContain(secret);
        expect(LOCAL_EXECUTOR_ENV).toEqual({ PATH: '/usr/local/bin:/usr/bin:/bin', LANG: 'C.UTF-8' });
      } finally {
        delete process.env['CHECKING_WORKER_PASSWORD'];
      }
    });

    it('runs in the configured directory with stdin closed (a program reading stdin ends at once)', async () => {
      expect((await search(executor, '/bin/pwd')).rawOutput).toBe(`exit code 0\n${dir}\n`);
      const began = Date.now();
      expect(await search(executor, '/bin/cat')).toEqual({ eventsFound: 1, events: [{ id: '(exit code matched)' }], rawOutput: 'exit code 0\n' });
      expect(Date.now() - began).toBeLessThan(2000);
    });
  });
});
