import { execFileSync } from 'node:child_process';
import { DetectionTaskMessage } from '@purple/contracts';
import { DetectionConnector } from '../src/connectors/connector';
import { ConnectorRegistry } from '../src/connectors/registry';
import { agentExecutorsFromEnv } from '../src/executors/agent-executors';
import { calderaExecutors, DETECTION_ABILITY } from '../src/executors/caldera/caldera-executor';
import { CalderaSettings, loadCalderaSettings } from '../src/executors/caldera/caldera-settings';
import { POWERSHELL_COMMAND_SYNTAX, SH_COMMAND_SYNTAX, unsafePlaceholders } from '../src/executors/caldera/shell-quoting';
import { renderQueryTemplate } from '../src/semantics/query-template';
import { DetectionOutcome } from '../src/semantics/run-detection';
import { connectorFailure, FakeCalderaAgent, minimalTask, runOnce, searchRequest } from '../src/testing';

const API_KEY = 'caldera-key-9f2e71';
const OPERATION_ID = 'op-7d1c';
const PAW = 'abcdef';
const HOSTILE = "whoami'; rm -rf /";

interface TaskShape {
  connector?: string;
  platform?: string;
  command?: string;
  timeoutSeconds?: number;
  config?: Record<string, unknown>;
  paw?: string | null;
  originalCommand?: string;
}

function agentTask(shape: TaskShape = {}): DetectionTaskMessage {
  return minimalTask({
    operationId: OPERATION_ID,
    detectionType: 'agent',
    platform: shape.platform ?? 'linux',
    connector: shape.connector ?? 'caldera',
    queryType: 'caldera_command',
    content: shape.command ?? 'grep -F -- {{command}} /var/log/auth.log',
    timeoutSeconds: shape.timeoutSeconds,
    originalCommand: shape.originalCommand ?? HOSTILE,
    agentPaw: shape.paw === null ? undefined : (shape.paw ?? PAW),
    linkId: 'red-link-1',
    attempt: 1,
    config: shape.config,
  });
}

describe('Caldera agent executors against a server speaking Caldera’s REST API v2', () => {
  let caldera: FakeCalderaAgent;
  let settings: CalderaSettings;
  let registry: ConnectorRegistry;
  const noShutdown = new AbortController().signal;

  const executor = (name: string): DetectionConnector => registry.find(name) as DetectionConnector;
  const run = (task: DetectionTaskMessage, connector = executor(task.connector as string)): Promise<DetectionOutcome> =>
    runOnce(connector, task, noShutdown);
  const linkPath = (id: string) => `/api/v2/operations/${OPERATION_ID}/links/${id}`;

  beforeAll(async () => {
    caldera = await FakeCalderaAgent.start({
      apiKey: API_KEY,
      operationId: OPERATION_ID,
      agents: [
        { paw: PAW, host: 'web-01', platform: 'linux', executors: ['sh', 'zsh', 'proc'] },
        { paw: 'winpaw', host: 'dc-01', platform: 'windows', executors: ['psh', 'pwsh', 'cmd'] },
      ],
    });
  });
  beforeEach(() => {
    caldera.requests.length = 0;
    caldera.links.length = 0;
    caldera.intercept = () => undefined;
    caldera.operation.state = 'running';
    caldera.run = { pendingPolls: 1, stdout: '', stderr: '', exitCode: '0', resultFormat: 'json' };
    settings = { url: caldera.url, apiKey: API_KEY, verifyTls: true, pollIntervalMs: 50, maxRetryAfterMs: 5000 };
    registry = new ConnectorRegistry(calderaExecutors(settings));
  });
  afterAll(() => caldera?.close());

  it('detects: adds the command as a potential link for the agent, polls until the agent reports, and judges the decoded result', async () => {
    caldera.run = { ...caldera.run, pendingPolls: 2, stdout: `Jan 10 12:00:03 web-01 sudo: ${HOSTILE}\n`, stderr: 'grep: warning\n' };
    const outcome = await run(agentTask({ config: { match: { output_contains: 'rm -rf' } } }));

    expect(outcome).toMatchObject({ status: 'detected', eventsFound: 1, searches: 1 });
    expect(caldera.linkRequests).toEqual([
      {
        paw: PAW,
        executor: { name: 'sh', platform: 'linux', command: `grep -F -- 'whoami'\\''; rm -rf /' /var/log/auth.log`, timeout: 5 },
        ability: { ...DETECTION_ABILITY, executors: [] },
      },
    ]);
    const link = caldera.links[0];
    expect(caldera.requests.map((r) => `${r.method} ${r.path}${r.query.size ? `?${r.query}` : ''}`)).toEqual([
      `GET /api/v2/operations/${OPERATION_ID}?include=state`,
      `POST /api/v2/operations/${OPERATION_ID}/potential-links`,
      `GET ${linkPath(link.id)}`,
      `GET ${linkPath(link.id)}`,
      `GET ${linkPath(link.id)}`,
      `GET ${linkPath(link.id)}/result`,
    ]);
    const polls = caldera.requestsTo(linkPath(link.id));
    expect(polls[1].receivedAt - polls[0].receivedAt).toBeGreaterThanOrEqual(45);
    expect(caldera.requests.every((r) => r.headers['key'] === API_KEY)).toBe(true);
    expect(outcome.events).toEqual([{ id: link.id, link: `${caldera.url}/#/operations/${OPERATION_ID}`, eventTime: new Date(link.finish) }]);
    expect(outcome.rawOutput).toContain(`caldera link ${link.id} on agent ${PAW} (executor sh)\nexit code 0\nJan 10 12:00:03 web-01 sudo: ${HOSTILE}\ngrep: warning`);
    expect(outcome.query).toBe(`grep -F -- 'whoami'\\''; rm -rf /' /var/log/auth.log`);
  });

  it('reports a miss when the rule is not satisfied (by exit code, or by output)', async () => {
    caldera.run = { ...caldera.run, stdout: '', exitCode: '1' };
    expect(await run(agentTask())).toMatchObject({ status: 'not_detected', eventsFound: 0, events: [] });

    caldera.run = { ...caldera.run, stdout: 'nothing relevant\n', exitCode: '0' };
    const outcome = await run(agentTask({ config: { match: { exit_code: 0, output_matches: 'mimikatz' } } }));
    expect(outcome).toMatchObject({ status: 'not_detected', eventsFound: 0 });
    expect(outcome.rawOutput).toContain('nothing relevant');
  });

  it('reads an older server’s plain base64 output, taking the exit code from the link status', async () => {
    caldera.run = { ...caldera.run, resultFormat: 'plain', stdout: 'EventID 4688 whoami\n', exitCode: '', status: 0 };
    expect(await run(agentTask({ command: 'grep -c whoami /var/log/x' }))).toMatchObject({ status: 'detected', eventsFound: 1 });

    caldera.run = { ...caldera.run, resultFormat: 'plain', stdout: '', exitCode: '', status: 1 };
    const miss = await run(agentTask({ command: 'grep -c whoami /var/log/x' }));
    expect(miss).toMatchObject({ status: 'not_detected' });
    expect(miss.rawOutput).toContain('exit code 1');
  });

  it('refuses on 401 with one final error that never holds the key', async () => {
    const wrong = new ConnectorRegistry(calderaExecutors({ ...settings, apiKey: 'wrong-key-3391' })).find('caldera') as DetectionConnector;
    const outcome = await run(agentTask(), wrong);
    expect(outcome).toMatchObject({ status: 'error', error: 'caldera refused the credentials (HTTP 401)', searches: 1 });
    expect(caldera.requests).toHaveLength(1);
    expect(caldera.links).toHaveLength(0);
    expect(JSON.stringify(outcome)).not.toContain('wrong-key-3391');
    expect(JSON.stringify(outcome)).not.toContain(API_KEY);
  });

  it('honours Retry-After on 429 and then goes on', async () => {
    let limited = false;
    caldera.intercept = (request) => {
      if (request.method !== 'POST' || limited) return undefined;
      limited = true;
      return { status: 429, headers: { 'retry-after': '1' }, body: { error: 'slow down' } };
    };
    expect(await run(agentTask({ command: 'true' }))).toMatchObject({ status: 'detected' });
    const posts = caldera.requestsTo(`/api/v2/operations/${OPERATION_ID}/potential-links`, 'POST');
    expect(posts).toHaveLength(2);
    expect(posts[1].receivedAt - posts[0].receivedAt).toBeGreaterThanOrEqual(950);
    expect(caldera.links).toHaveLength(1);
  });

  it('times out through the detection semantics when the agent never reports, and the next search polls the same link', async () => {
    caldera.run = { ...caldera.run, pendingPolls: 'never' };
    const task = agentTask({ timeoutSeconds: 1, command: 'grep -q x /var/log/y' });
    const startedAt = Date.now();
    expect(await run(task)).toMatchObject({ status: 'error', error: 'caldera search timed out after 1 s (1 failures in a row)' });
    expect(Date.now() - startedAt).toBeLessThan(3000);
    expect(caldera.linkRequests[0].executor.timeout).toBe(1);

    // the agent comes back: the task's next search reads the waiting link instead of adding another
    caldera.links[0].run = { ...caldera.links[0].run, pendingPolls: 0 };
    expect(await run(task)).toMatchObject({ status: 'detected' });
    expect(caldera.links).toHaveLength(1);
  });

  it('reports 5xx as retryable and keeps polling the same link at the next search', async () => {
    caldera.intercept = (request) => (request.method === 'GET' && request.path.includes('/links/') ? { status: 502, body: '<html>bad gateway</html>' } : undefined);
    const task = agentTask({ command: 'true' });
    const failed = await connectorFailure(executor('caldera').search(searchRequest('true', { task }), noShutdown));
    expect(failed).toMatchObject({ retryable: true, message: 'caldera answered HTTP 502' });

    caldera.intercept = () => undefined;
    expect(await run(task)).toMatchObject({ status: 'detected' });
    expect(caldera.links).toHaveLength(1);
  });

  it('reports malformed answers as final errors', async () => {
    const resultPath = /\/links\/[^/]+\/result$/;
    const cases: Array<[unknown, string]> = [
      [{ link: {}, result: '%%% not base64 %%%' }, 'caldera returned a malformed response: the link result is not base64'],
      [{ link: {} }, 'caldera returned a malformed response: the link result has no result text'],
      ['<html>proxy error</html>', 'caldera returned a malformed response: the body is not JSON'],
    ];
    for (const [body, error] of cases) {
      caldera.intercept = (request) => (resultPath.test(request.path) ? { status: 200, body } : undefined);
      expect(await run(agentTask({ command: 'true' }))).toMatchObject({ status: 'error', error });
    }
    caldera.intercept = (request) => (request.method === 'POST' ? { status: 200, body: { status: -3 } } : undefined);
    expect(await run(agentTask({ command: 'true' }))).toMatchObject({ status: 'error', error: 'caldera returned a malformed response: the created link has no link id' });
  });

  it('refuses a task without an agent paw before asking Caldera anything', async () => {
    expect(await run(agentTask({ paw: null }))).toMatchObject({
      status: 'error',
      error: 'caldera: the task names no Caldera agent (metadata.execution_context.agent_paw)',
    });
    expect(caldera.requests).toHaveLength(0);
  });

  it('runs seed-shaped `powershell` tasks with psh and PowerShell literals, and `bash`/`sh` tasks with sh', async () => {
    const command = "Get-WinEvent -LogName Security | Where-Object { $_.Message -like '*{{command}}*' } | Select-Object -First 1; Write-Output {{host}}";
    const outcome = await run(agentTask({ connector: 'powershell', platform: 'windows', paw: 'winpaw', command, originalCommand: "it's'; Remove-Item C:\\ -Recurse #’" }));
    expect(outcome.status).toBe('detected');
    expect(caldera.linkRequests[0]).toMatchObject({
      paw: 'winpaw',
      executor: {
        name: 'psh',
        platform: 'windows',
        command: "Get-WinEvent -LogName Security | Where-Object { $_.Message -like '*it''s''; Remove-Item C:\\ -Recurse #’’*' } | Select-Object -First 1; Write-Output 'web-01'",
      },
    });

    for (const connector of ['bash', 'sh']) {
      caldera.links.length = 0;
      await run(agentTask({ connector, platform: 'windows', command: 'grep -c {{host}} /var/log/syslog' }));
      expect(caldera.linkRequests[0].executor).toMatchObject({ name: 'sh', command: "grep -c 'web-01' /var/log/syslog" });
    }
  });

  it('runs a task named after a Caldera executor on that executor, with its quoting (the reference publisher’s list form)', async () => {
    const cases = [
      { connector: 'psh', platform: 'windows', paw: 'winpaw', command: 'Get-WinEvent -LogName Security | Select-String -SimpleMatch {{host}}', expected: { name: 'psh', platform: 'windows', command: "Get-WinEvent -LogName Security | Select-String -SimpleMatch 'web-01'" } },
      { connector: 'pwsh', platform: 'windows', paw: 'winpaw', command: 'Write-Output {{host}}', expected: { name: 'pwsh', platform: 'windows', command: "Write-Output 'web-01'" } },
      { connector: 'zsh', platform: 'darwin', paw: PAW, command: 'log show --last 15m | grep -F -- {{host}}', expected: { name: 'zsh', platform: 'darwin', command: "log show --last 15m | grep -F -- 'web-01'" } },
      { connector: 'sh', platform: 'linux', paw: PAW, command: 'grep -c -F -- {{host}} /var/log/syslog', expected: { name: 'sh', platform: 'linux', command: "grep -c -F -- 'web-01' /var/log/syslog" } },
      { connector: 'cmd', platform: 'windows', paw: 'winpaw', command: 'wevtutil qe Security /c:1', expected: { name: 'cmd', platform: 'windows', command: 'wevtutil qe Security /c:1' } },
    ];
    for (const { expected, ...task } of cases) {
      caldera.links.length = 0;
      expect(await run(agentTask(task))).toMatchObject({ status: 'detected' });
      expect(caldera.linkRequests[0].executor).toMatchObject(expected);
    }
    // cmd and proc have no quoting the engine can vouch for: placeholders are refused before anything runs
    caldera.requests.length = 0;
    for (const connector of ['cmd', 'proc']) {
      expect(await run(agentTask({ connector, platform: 'windows', paw: 'winpaw', command: 'findstr {{host}} C:\\x.log' }))).toMatchObject({
        status: 'error',
        error: expect.stringContaining(`the ${connector} executor has no quoting the engine can vouch for`),
      });
    }
    expect(caldera.requests).toHaveLength(0);
  });

  it('takes the executor from detection_config, else the platform, and refuses placeholders a shell of another kind would read', async () => {
    await run(agentTask({ platform: 'windows', paw: 'winpaw', command: 'whoami /all' }));
    expect(caldera.linkRequests[0].executor).toMatchObject({ name: 'psh', platform: 'windows', command: 'whoami /all' });

    caldera.links.length = 0;
    await run(agentTask({ platform: 'windows', paw: 'winpaw', command: 'echo %COMPUTERNAME%', config: { executor: 'cmd' } }));
    expect(caldera.linkRequests[0].executor).toMatchObject({ name: 'cmd', command: 'echo %COMPUTERNAME%' });

    caldera.requests.length = 0;
    expect(await run(agentTask({ platform: 'windows', paw: 'winpaw', command: "Select-String -Pattern {{command}} C:\\x.log" }))).toMatchObject({
      status: 'error',
      error: 'caldera: the caldera connector writes placeholder values as sh literals, which executor psh does not read: name the connector "powershell" for PowerShell quoting',
    });
    expect(await run(agentTask({ command: 'findstr {{host}} x', config: { executor: 'cmd' } }))).toMatchObject({ status: 'error' });
    expect(await run(agentTask({ platform: 'siem', command: 'true' }))).toMatchObject({
      status: 'error',
      error: 'caldera: cannot tell which Caldera executor runs a command for platform siem: set detection_config.executor',
    });
    expect(caldera.requests).toHaveLength(0);
  });

  it('refuses placeholders the shell would not read as a plain literal, before anything runs', async () => {
    const outcome = await run(agentTask({ command: 'grep "{{command}}" /var/log/auth.log' }));
    expect(outcome.status).toBe('error');
    expect(outcome.error).toBe(
      "caldera: placeholder values would not stay string literals in the sh command: {{command}} stands inside a double-quoted string, where $(…) still runs; put each placeholder bare or inside '…'",
    );
    expect(caldera.requests).toHaveLength(0);
  });

  it('does not add links to a finished operation, and waits for a paused one', async () => {
    caldera.operation.state = 'finished';
    expect(await run(agentTask({ command: 'true' }))).toMatchObject({
      status: 'error',
      error: `caldera: operation ${OPERATION_ID} is finished: Caldera adds links only to a running operation (turn off auto-close to check after the attack)`,
    });
    caldera.operation.state = 'paused';
    expect(await run(agentTask({ command: 'true' }))).toMatchObject({
      status: 'error',
      error: `caldera: operation ${OPERATION_ID} is paused; the check waits until it runs (1 failures in a row)`,
    });
    expect(caldera.requestsTo(/potential-links/)).toHaveLength(0);
  });

  it('reports a command the agent killed at its timeout as an error, and Caldera’s own refusals with its reason', async () => {
    caldera.run = { ...caldera.run, status: 124, exitCode: '' };
    expect(await run(agentTask({ command: 'sleep 100' }))).toMatchObject({
      status: 'error',
      error: expect.stringMatching(/^caldera: the agent killed the command at its timeout \(link [0-9a-f-]+, status 124\) \(1 failures in a row\)$/),
    });
    expect(await run(agentTask({ command: 'true', config: { executor: 'pwsh' } }))).toMatchObject({
      status: 'error',
      error: `caldera refused the request (HTTP 400): Agent ${PAW} missing specified executor`,
    });
  });
});

describe('shell literals for placeholder values', () => {
  const payloads = [HOSTILE, "'; echo INJECTED; '", '$(echo INJECTED)', '`echo INJECTED`', 'a\\\'b " \\" $HOME', "multi\nline'\n echo INJECTED"];

  it('keep every value inside its sh literal, bare or inside quotes (checked by sh itself)', () => {
    for (const value of payloads) {
      for (const template of ['printf %s {{v}}', "printf %s 'before {{v}} after'"]) {
        const command = renderQueryTemplate(template, { v: value }, SH_COMMAND_SYNTAX);
        expect(unsafePlaceholders(template, 'sh')).toEqual([]);
        const printed = execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });
        const expected = value.replace(/\n/g, ' ');
        expect(printed).toBe(template.includes("'") ? `before ${expected} after` : expected);
      }
    }
  });

  it('double every PowerShell quote character and flatten control characters', () => {
    expect(renderQueryTemplate('Write-Output {{v}}', { v: "a'b’c\nd" }, POWERSHELL_COMMAND_SYNTAX)).toBe("Write-Output 'a''b’’c d'");
    expect(renderQueryTemplate("Write-Output 'x{{v}}y'", { v: "'; rm -rf /" }, POWERSHELL_COMMAND_SYNTAX)).toBe("Write-Output 'x''; rm -rf /y'");
  });

  it('accept placeholders only bare or in plain single-quoted strings', () => {
    expect(unsafePlaceholders("grep {{a}} 'x{{b}}' \"lit\" 'it''s' # a comment", 'sh')).toEqual([]);
    expect(unsafePlaceholders('grep "{{a}}" \\{{b}} $\'{{c}}\'', 'sh')).toEqual([
      '{{a}} stands inside a double-quoted string, where $(…) still runs',
      '{{b}} follows an escape character',
      "{{c}} stands inside a $'…' string",
    ]);
    expect(unsafePlaceholders("# don't\ngrep {{a}} x", 'sh')).toEqual(['{{a}} stands outside a quoted string for the shell but inside one for the template']);
    expect(unsafePlaceholders('cat <<EOF\n{{a}}\nEOF', 'sh')).toEqual(['{{a}} stands in a here-document']);

    expect(unsafePlaceholders("Get-X {{a}} 'it''s {{b}}' \"x\" # note", 'powershell')).toEqual([]);
    expect(unsafePlaceholders('Get-X "{{a}}" <# {{b}} #> `{{c}}', 'powershell')).toEqual([
      '{{a}} stands inside a double-quoted string, where $(…) still runs',
      '{{b}} stands in a comment',
      '{{c}} follows an escape character',
    ]);
    expect(unsafePlaceholders("$s = @'\n{{a}}\n'@\nGet-X {{b}}", 'powershell')).toEqual(['{{a}} stands in a here-string']);
  });
});

describe('loadCalderaSettings and registration', () => {
  it('is undefined (no executor registered) without CALDERA_URL', () => {
    expect(loadCalderaSettings({})).toBeUndefined();
    expect(agentExecutorsFromEnv({}).map((e) => e.name)).not.toContain('caldera');
  });

  it('reads the URL, key, TLS, poll interval and Retry-After bound', () => {
    expect(loadCalderaSettings({ CALDERA_URL: 'https://caldera:8888/', CALDERA_API_KEY: 'k' })).toEqual({
      url: 'https://caldera:8888',
      apiKey: 'k',
      verifyTls: true,
      pollIntervalMs: 2000,
      maxRetryAfterMs: 30_000,
    });
    expect(
      loadCalderaSettings({
        CALDERA_URL: 'http://caldera:8888',
        CALDERA_API_KEY: 'k',
        CALDERA_VERIFY_TLS: 'false',
        CALDERA_POLL_INTERVAL_MS: '500',
        CALDERA_MAX_RETRY_AFTER_SECONDS: '5',
      }),
    ).toMatchObject({ verifyTls: false, pollIntervalMs: 500, maxRetryAfterMs: 5000 });
  });

  it('names what is missing or malformed, never a value', () => {
    expect(() => loadCalderaSettings({ CALDERA_URL: 'https://caldera:8888' })).toThrow('CALDERA_API_KEY is missing: CALDERA_URL is set');
    expect(() => loadCalderaSettings({ CALDERA_URL: 'caldera:8888', CALDERA_API_KEY: 'secret-x' })).toThrow('CALDERA_URL is malformed');
    expect(() => loadCalderaSettings({ CALDERA_URL: 'https://admin:pw@caldera:8888', CALDERA_API_KEY: 'k' })).toThrow('CALDERA_URL must not contain credentials');
    let error: unknown;
    try {
      loadCalderaSettings({ CALDERA_URL: 'https://c:8888', CALDERA_API_KEY: 'secret-x', CALDERA_POLL_INTERVAL_MS: '5' });
    } catch (thrown) {
      error = thrown;
    }
    expect(String(error)).toMatch(/CALDERA_POLL_INTERVAL_MS is malformed/);
    expect(String(error)).not.toContain('secret-x');
  });

  it('registers caldera, the seed’s names and Caldera’s executor names in the agent worker', () => {
    const executors = agentExecutorsFromEnv({ CALDERA_URL: 'https://caldera:8888', CALDERA_API_KEY: 'k' });
    const registry = new ConnectorRegistry(executors);
    const names = ['caldera', 'powershell', 'bash', 'sh', 'psh', 'pwsh', 'zsh', 'cmd', 'proc'];
    expect(names.map((name) => registry.find(name)?.name)).toEqual(names);
    expect(registry.find('psh')?.syntax).toBe(POWERSHELL_COMMAND_SYNTAX);
    expect(registry.find('pwsh')?.syntax).toBe(POWERSHELL_COMMAND_SYNTAX);
    expect(registry.find('zsh')?.syntax).toBe(SH_COMMAND_SYNTAX);
    expect(registry.find('PowerShell')?.syntax).toBe(POWERSHELL_COMMAND_SYNTAX);
    expect(registry.find('bash')?.syntax).toBe(SH_COMMAND_SYNTAX);
  });
});
