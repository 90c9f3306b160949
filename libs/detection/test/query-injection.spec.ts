import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CROWDSTRIKE_QUERY_SYNTAX } from '../src/connectors/crowdstrike/crowdstrike-connector';
import { ELASTIC_QUERY_SYNTAX, EQL_QUERY_SYNTAX, LUCENE_QUERY_SYNTAX } from '../src/connectors/elastic/elastic-connector';
import { SENTINEL_QUERY_SYNTAX } from '../src/connectors/sentinel/sentinel-connector';
import { SPLUNK_QUERY_SYNTAX } from '../src/connectors/splunk/splunk-connector';
import { POWERSHELL_COMMAND_SYNTAX, SH_COMMAND_SYNTAX } from '../src/executors/caldera/shell-quoting';
import { LOCAL_COMMAND_SYNTAX, splitCommandLine } from '../src/executors/local/command-line';
import { QuerySyntax, renderQueryTemplate, TemplateError } from '../src/semantics/query-template';

/*
 * Issue 12 item 3: a value reported by a hostile agent must reach the product as a literal. Each table row is
 * [template, value, the rendered query, or the refusal's reason as a RegExp].
 */
type Row = [template: string, value: string, expected: string | RegExp];

function check(syntax: QuerySyntax, rows: Row[]): void {
  it.each(rows)('%s with %j', (template, value, expected) => {
    const render = () => renderQueryTemplate(template, { v: value }, syntax);
    if (typeof expected === 'string') expect(render()).toBe(expected);
    else {
      expect(render).toThrow(TemplateError);
      expect(render).toThrow(expected);
    }
  });
}

describe('SPL (Splunk)', () => {
  check(SPLUNK_QUERY_SYNTAX, [
    // a search reads `*` as a wildcard even inside quotes, and cannot escape it: refused, never "every host"
    ['index=main host={{v}}', '*', /the value of \{\{v\}\} holds "\*", which SPL's search reads as a wildcard/],
    ['index=main CommandLine="*{{v}}*"', 'a*b', /holds "\*"/],
    ['index=main | search host={{v}}', 'web*', /holds "\*"/],
    ['index=main [search host={{v}}]', '*', /holds "\*"/],
    ['| tstats count where index=main host={{v}}', '*', /holds "\*"/],
    ['index=main | where searchmatch("host={{v}}")', '*', /holds "\*"/],
    // `?` is not special in SPL
    ['index=main host={{v}}', 'web-0?', 'index=main host="web-0?"'],
    ['index=main host={{v}}', '" OR 1=1', 'index=main host="\\" OR 1=1"'],
    ['index=main host={{v}}', 'x" | delete | search "', 'index=main host="x\\" | delete | search \\""'],
    ['index=main host={{v}}', 'a\\', 'index=main host="a\\\\"'],
    ['index=main host={{v}}', "it's", 'index=main host="it\'s"'],
    ['index=main host={{v}}', 'a\n| delete', 'index=main host="a | delete"'],
    ['index=main host={{v}}', '-v )', 'index=main host="-v )"'],
    // after the search, in eval/where, `*` is a plain character of a string
    ['index=main | where host={{v}}', '*', 'index=main | where host="*"'],
    ['index=main | eval h={{v}}', '*', 'index=main | eval h="*"'],
    // regex contexts: metacharacters escaped
    ['index=main | regex CommandLine="{{v}}"', 'a.b*(c)', 'index=main | regex CommandLine="a\\\\.b\\\\*\\\\(c\\\\)"'],
    ['index=main | where match(CommandLine, {{v}})', '.*', 'index=main | where match(CommandLine, "\\\\.\\\\*")'],
    ['index=main | where like(host, "{{v}}%")', 'a_b', /holds "_", which like\(\) reads as wildcards/],
    // a single-quoted string is a field name: refused, since a value could close it
    ["index=main | where '{{v}}'=1", "x' OR 1=1 OR '", /stands inside '…', which SPL reads as a field name/],
  ]);
});

describe('Lucene query_string (Elasticsearch, OpenSearch: lucene, kql)', () => {
  check(LUCENE_QUERY_SYNTAX, [
    // a phrase: `*` and `?` are plain characters inside it, so a host `*` is the term "*"
    ['host.name:{{v}}', '*', 'host.name:"*"'],
    ['host.name:{{v}}', 'we?-01', 'host.name:"we?-01"'],
    ['host.name:{{v}}', '" OR *:*', 'host.name:"\\" OR *:*"'],
    ['host.name:{{v}}', 'a\\', 'host.name:"a\\\\"'],
    ['host.name:{{v}}', ') OR (x', 'host.name:") OR (x"'],
    ['process.command_line:"*{{v}}*"', 'x" OR "y', 'process.command_line:"*x\\" OR \\"y*"'],
    ['host.name:{{v}}', 'a\nb', 'host.name:"a b"'],
    // a template regex `/…/`: the value's metacharacters (and `/`) are escaped
    ['process.name:/{{v}}/', '.*', 'process.name:/\\\\.\\\\*/'],
    ['process.name:/.*{{v}}/', 'a/b', 'process.name:/.*a\\\\/b/'],
    // an escaped `/` in the template is no regex opening
    ['file.path:\\/etc\\/{{v}}', '*', 'file.path:\\/etc\\/"*"'],
  ]);
});

describe('Elastic EQL', () => {
  check(EQL_QUERY_SYNTAX, [
    // `:` and `like` read `*`/`?` as wildcards that EQL cannot escape: refused
    ['process where host.name : {{v}}', '*', /holds "\*", which EQL's : reads as wildcards/],
    ['process where process.name like~ "{{v}}"', 'a?', /holds "\?", which EQL's like~ reads as wildcards/],
    ['process where process.name : ("a", {{v}})', '*', /holds "\*"/],
    ['process where wildcard(process.name, {{v}})', '*', /holds "\*", which EQL's wildcard\(\)/],
    // `==` compares as it is
    ['process where host.name == {{v}}', '*', 'process where host.name == "*"'],
    ['process where host.name == {{v}}', '" or true or "', 'process where host.name == "\\" or true or \\""'],
    ['process where host.name == {{v}}', 'a\\', 'process where host.name == "a\\\\"'],
    ['process where host.name == {{v}}', 'x // c\nor true', 'process where host.name == "x // c or true"'],
    ['process where process.name regex {{v}}', 'a.*', 'process where process.name regex "a\\\\.\\\\*"'],
    // raw strings cannot hold a quote
    ['process where process.command_line == """{{v}}"""', 'x""" or true or """', /which a raw """…""" string cannot hold/],
    ['process where process.command_line == """{{v}}"""', 'C:\\x', 'process where process.command_line == """C:\\x"""'],
  ]);
});

describe('Elastic Query DSL', () => {
  check(ELASTIC_QUERY_SYNTAX, [
    ['{"term": {"host.name": {{v}}}}', '*', '{"term": {"host.name": "*"}}'],
    ['{"term": {"host.name": {{v}}}}', '"}, "x": {"', '{"term": {"host.name": "\\"}, \\"x\\": {\\""}}'],
    // a wildcard query: `*`, `?` and `\` escaped, then written as JSON
    ['{"wildcard": {"process.command_line": {"value": "*{{v}}*"}}}', '*?\\', '{"wildcard": {"process.command_line": {"value": "*\\\\*\\\\?\\\\\\\\*"}}}'],
    ['{"regexp": {"process.name": {{v}}}}', 'a.*', '{"regexp": {"process.name": "a\\\\.\\\\*"}}'],
    ['{"query_string": {"query": "host.name:{{v}}"}}', '* OR x', '{"query_string": {"query": "host.name:\\\\*\\\\ OR\\\\ x"}}'],
  ]);
});

describe('KQL (Microsoft Sentinel)', () => {
  check(SENTINEL_QUERY_SYNTAX, [
    ['SecurityEvent | where Computer == {{v}}', '*', 'SecurityEvent | where Computer == "*"'],
    ['SecurityEvent | where Computer == {{v}}', '" or 1==1 //', 'SecurityEvent | where Computer == "\\" or 1==1 //"'],
    // a template quoted with `'`: the value is escaped for `'…'`, so it cannot close it
    ["SecurityEvent | where Computer == '{{v}}'", "x' or 1==1 or '", "SecurityEvent | where Computer == 'x\\' or 1==1 or \\''"],
    ["SecurityEvent | where Computer == '{{v}}'", 'a\\', "SecurityEvent | where Computer == 'a\\\\'"],
    // verbatim strings: the quote doubled, backslashes plain
    ['SecurityEvent | where CommandLine has @"{{v}}"', 'C:\\x" or true or "', 'SecurityEvent | where CommandLine has @"C:\\x"" or true or """'],
    ["SecurityEvent | where CommandLine has @'{{v}}'", "x' or true or '", "SecurityEvent | where CommandLine has @'x'' or true or '''"],
    ['SecurityEvent | where CommandLine has ```{{v}}```', 'x``` or true', /holds "`"/],
    ['SecurityEvent | where CommandLine matches regex {{v}}', 'a.*(b)', 'SecurityEvent | where CommandLine matches regex "a\\\\.\\\\*\\\\(b\\\\)"'],
    ['search {{v}}', '*', /holds "\*", which KQL's search reads as a wildcard/],
    ['SecurityEvent | where Computer == {{v}}', 'a\nb', 'SecurityEvent | where Computer == "a b"'],
    ['SecurityEvent | where Computer == {{v}}', ') | union *', 'SecurityEvent | where Computer == ") | union *"'],
  ]);
});

describe('FQL (CrowdStrike Falcon)', () => {
  check(CROWDSTRIKE_QUERY_SYNTAX, [
    ['device.hostname:{{v}}', '*', /holds "\*", which FQL reads as a wildcard/],
    ["device.hostname:'{{v}}*'", 'web*', /holds "\*"/],
    ['device.hostname:{{v}}', "x'+status:'new", "device.hostname:'x\\'+status:\\'new'"],
    ['device.hostname:"{{v}}"', 'x"+status:"new', 'device.hostname:"x\\"+status:\\"new"'],
    ['device.hostname:{{v}}', 'a\\', "device.hostname:'a\\\\'"],
    ['device.hostname:{{v}}', 'we?b', "device.hostname:'we?b'"],
    ['device.hostname:{{v}}', 'a\nb', "device.hostname:'a b'"],
  ]);
});

describe('PowerShell (Caldera psh/pwsh)', () => {
  check(POWERSHELL_COMMAND_SYNTAX, [
    // -like: wildcards get a backtick, so `*` does not match every command line
    ["$e | Where-Object { $_.Message -like '*{{v}}*' }", '*', "$e | Where-Object { $_.Message -like '*`**' }"],
    ["$e | Where-Object { $_.Message -like '*{{v}}*' }", 'a?[b]`', "$e | Where-Object { $_.Message -like '*a`?`[b`]``*' }"],
    ["$e | Where-Object { $_.Message -notlike {{v}} }", "x' -or '1", "$e | Where-Object { $_.Message -notlike 'x'' -or ''1' }"],
    // -match and Select-String: regex metacharacters escaped as [regex]::Escape does
    ['$e | Where-Object { $_.Message -match {{v}} }', '.*', "$e | Where-Object { $_.Message -match '\\.\\*' }"],
    ['Select-String -Path C:\\log.txt -Pattern {{v}}', 'a|b', "Select-String -Path C:\\log.txt -Pattern 'a\\|b'"],
    ['Select-String -Path C:\\log.txt -Pattern {{v}} -SimpleMatch', 'a|b', "Select-String -Path C:\\log.txt -Pattern 'a|b' -SimpleMatch"],
    // a quoted value is never a parameter; .Contains() is literal
    ['$e | Where-Object { $_.Message.Contains({{v}}) }', '-v', "$e | Where-Object { $_.Message.Contains('-v') }"],
    ['Write-Output {{v}}', "x'; Remove-Item C:\\ -Recurse; '", "Write-Output 'x''; Remove-Item C:\\ -Recurse; '''"],
    ['Write-Output {{v}}', 'x\u2019; whoami', "Write-Output 'x\u2019\u2019; whoami'"],
  ]);
});

/** Values a hostile agent may report; each must be found as itself, and only as itself. */
const HOSTILE_VALUES = ['*', '?', '.', '.*', '^$', 'a|b', '[x]', '(x', ')', 'a\\b', '\\', '"', "'", '" OR 1=1', "' OR '1'='1", '$(id)', '`id`', 'x; id', 'a+b{2}'];
/** What the log holds: each hostile value on its own line, among lines that hold none of them. */
const LOG_LINES = [...HOSTILE_VALUES.map((value) => `seen ${value} here`), 'plain line', 'another plain line', 'v', 'help'];

describe('host commands run for real: grep finds the value literally', () => {
  let dir: string;
  let log: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'injection-'));
    log = join(dir, 'auth.log');
    writeFileSync(log, `${LOG_LINES.join('\n')}\n`);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const expectedLines = (value: string) => LOG_LINES.filter((line) => line.includes(value));

  /** runs the rendered command; grep's exit 1 (nothing found) is an empty answer */
  const run = (file: string, args: string[]): string[] => {
    try {
      return execFileSync(file, args, { encoding: 'utf8' }).split('\n').filter((line) => line !== '');
    } catch (error) {
      if ((error as { status?: number }).status === 1) return [];
      throw error;
    }
  };

  const templates = ['grep -F -- {{v}} LOG', 'grep -e {{v}} LOG', 'grep {{v}} LOG', 'grep -E -e {{v}} LOG', 'grep -P -- {{v}} LOG', "grep -E '{{v}}$' LOG"];

  describe.each(templates)('sh: %s', (template) => {
    it.each(HOSTILE_VALUES)('%j', (value) => {
      const command = renderQueryTemplate(template.replace('LOG', log), { v: value }, SH_COMMAND_SYNTAX);
      const expected = template.endsWith("$' LOG") ? LOG_LINES.filter((line) => line.endsWith(value)) : expectedLines(value);
      expect(run('/bin/sh', ['-c', command])).toEqual(expected);
    });
  });

  describe.each(templates.filter((template) => !template.includes("'")))('local executor argv: %s', (template) => {
    it.each(HOSTILE_VALUES)('%j', (value) => {
      const [program, ...args] = splitCommandLine(renderQueryTemplate(template.replace('LOG', log), { v: value }, LOCAL_COMMAND_SYNTAX));
      expect(run(`/usr/bin/${program}`, args)).toEqual(expectedLines(value));
    });
  });

  it.each([
    ['sh', SH_COMMAND_SYNTAX],
    ['local', LOCAL_COMMAND_SYNTAX],
  ])('refuses a value starting with "-" where the program would read it as an option (%s)', (_name, syntax) => {
    for (const value of ['-v', '--help', '-r /']) {
      expect(() => renderQueryTemplate('grep -c {{v}} /var/log/auth.log', { v: value }, syntax)).toThrow(
        /the value of \{\{v\}\} starts with "-", which grep would read as an option: put -- \(or -e\) before the placeholder/,
      );
      expect(() => renderQueryTemplate('cat {{v}}', { v: value }, syntax)).toThrow(/which cat would read as an option/);
    }
    // after `--` or `-e`, or inside a longer argument, a leading dash is harmless
    expect(() => renderQueryTemplate('grep -c -- {{v}} /var/log/auth.log', { v: '-v' }, syntax)).not.toThrow();
    expect(() => renderQueryTemplate('grep -c -e {{v}} /var/log/auth.log', { v: '-v' }, syntax)).not.toThrow();
    expect(() => renderQueryTemplate('journalctl --grep=x{{v}}', { v: '-v' }, syntax)).not.toThrow();
  });

  it('a "-v" value after -e is found literally, never inverting the match', () => {
    const command = renderQueryTemplate(`grep -e {{v}} ${log}`, { v: '-v' }, SH_COMMAND_SYNTAX);
    expect(run('/bin/sh', ['-c', command])).toEqual([]);
    writeFileSync(join(dir, 'dash.log'), 'has -v in it\nplain\n');
    const found = renderQueryTemplate(`grep -e {{v}} ${join(dir, 'dash.log')}`, { v: '-v' }, SH_COMMAND_SYNTAX);
    expect(run('/bin/sh', ['-c', found])).toEqual(['has -v in it']);
  });
});
