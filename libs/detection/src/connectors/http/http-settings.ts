import 'reflect-metadata';
import { readFileSync } from 'node:fs';
import { IsOptional, IsString } from 'class-validator';
import { ConfigError, loadConfig } from '@purple/platform';

/**
 * The generic HTTP connector's environment. The operator names the products it may call (targets); a task only
 * picks one by name, so a task can never make the worker send the operator's credentials to a URL of its choosing.
 * Without either variable the connector is not registered (tasks: `unsupported`).
 */
export class HttpConnectorEnv {
  /** a JSON object of named targets (see {@link HttpTarget}) */
  @IsOptional()
  @IsString()
  HTTP_CONNECTOR_TARGETS?: string;

  /** or the path of a JSON file holding that object */
  @IsOptional()
  @IsString()
  HTTP_CONNECTOR_TARGETS_FILE?: string;
}

/** One product the connector may call, as the operator configured it (`${VAR}`s already substituted). */
export interface HttpTarget {
  name: string;
  url: URL;
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  verifyTls: boolean;
  maxRetryAfterMs: number;
  /** the values substituted for `${VAR}`s: credentials, scrubbed from anything the connector returns */
  secrets: string[];
}

export interface HttpConnectorSettings {
  targets: Map<string, HttpTarget>;
}

const TARGET_KEYS = ['url', 'method', 'headers', 'verify_tls', 'max_retry_after_seconds'];
const TARGET_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
/** RFC 9110 token: what a header name may hold */
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
/** what Node accepts in a header value: no line breaks or other control characters (header injection) */
const HEADER_VALUE = /^[\t\x20-\x7e\x80-\xff]*$/;
/** headers the connector computes itself */
const RESERVED_HEADERS = new Set(['content-length', 'transfer-encoding']);
const VARIABLE = /\$\{([^}]*)\}/g;
const VARIABLE_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const DEFAULT_MAX_RETRY_AFTER_SECONDS = 30;

/**
 * The connector's targets, undefined when none are configured. Every problem is reported at once in a ConfigError
 * that names the variable, the target and the key, never a value (values hold credentials).
 */
export function loadHttpConnectorSettings(env: NodeJS.ProcessEnv): HttpConnectorSettings | undefined {
  const config = loadConfig(HttpConnectorEnv, env);
  if (config.HTTP_CONNECTOR_TARGETS !== undefined && config.HTTP_CONNECTOR_TARGETS_FILE !== undefined) {
    throw new ConfigError(['HTTP_CONNECTOR_TARGETS and HTTP_CONNECTOR_TARGETS_FILE are both set: use one']);
  }
  let source: string;
  let text: string;
  if (config.HTTP_CONNECTOR_TARGETS !== undefined) {
    source = 'HTTP_CONNECTOR_TARGETS';
    text = config.HTTP_CONNECTOR_TARGETS;
  } else if (config.HTTP_CONNECTOR_TARGETS_FILE !== undefined) {
    source = 'HTTP_CONNECTOR_TARGETS_FILE';
    try {
      text = readFileSync(config.HTTP_CONNECTOR_TARGETS_FILE, 'utf8');
    } catch (error) {
      throw new ConfigError([`${source} cannot be read (${(error as NodeJS.ErrnoException).code ?? 'error'})`]);
    }
  } else {
    return undefined;
  }

  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // the parser's message quotes the text, which may hold a credential
    throw new ConfigError([`${source} is not valid JSON`]);
  }
  if (!isObject(parsed)) throw new ConfigError([`${source} must be a JSON object of named targets`]);
  if (Object.keys(parsed).length === 0) throw new ConfigError([`${source} defines no target`]);

  const problems: string[] = [];
  const targets = new Map<string, HttpTarget>();
  for (const [name, entry] of Object.entries(parsed)) {
    const target = readTarget(name, entry, env, (problem) => problems.push(`${source}: target "${safeName(name)}" ${problem}`));
    if (target) targets.set(name, target);
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return { targets };
}

function readTarget(name: string, entry: unknown, env: NodeJS.ProcessEnv, problem: (text: string) => void): HttpTarget | undefined {
  let failed = false;
  const report = (text: string) => {
    failed = true;
    problem(text);
  };
  if (!TARGET_NAME.test(name)) report('has a bad name (1 to 64 letters, digits, _, . or -)');
  if (!isObject(entry)) {
    report('must be an object');
    return undefined;
  }
  for (const key of Object.keys(entry)) {
    if (!TARGET_KEYS.includes(key)) report(`has an unknown key "${safeName(key)}" (known: ${TARGET_KEYS.join(', ')})`);
  }
  const secrets: string[] = [];
  const substitute = (value: string, where: string) => substituteVariables(value, env, where, report, secrets);

  let url: URL | undefined;
  if (typeof entry['url'] !== 'string' || entry['url'] === '') {
    report('url is missing');
  } else {
    const text = substitute(entry['url'], 'url');
    url = text === undefined ? undefined : parseTargetUrl(text, report);
  }

  let method: HttpTarget['method'] = 'POST';
  if (entry['method'] !== undefined) {
    const given = typeof entry['method'] === 'string' ? entry['method'].toUpperCase() : undefined;
    if (given === 'GET' || given === 'POST') method = given;
    else report('method must be GET or POST');
  }

  const headers: Record<string, string> = {};
  if (entry['headers'] !== undefined) {
    if (!isObject(entry['headers'])) {
      report('headers must be an object of header names to text');
    } else {
      for (const [header, raw] of Object.entries(entry['headers'])) {
        if (!HEADER_NAME.test(header)) {
          report(`headers has a bad header name "${safeName(header)}"`);
          continue;
        }
        if (RESERVED_HEADERS.has(header.toLowerCase())) {
          report(`headers.${header} is set by the connector`);
          continue;
        }
        if (typeof raw !== 'string') {
          report(`headers.${header} must be text`);
          continue;
        }
        const value = substitute(raw, `headers.${header}`);
        if (value === undefined) continue;
        if (!HEADER_VALUE.test(value)) report(`headers.${header} holds a line break or control character`);
        else headers[header] = value;
      }
    }
  }

  let verifyTls = true;
  if (entry['verify_tls'] !== undefined) {
    if (typeof entry['verify_tls'] === 'boolean') verifyTls = entry['verify_tls'];
    else report('verify_tls must be true or false');
  }

  let maxRetryAfterSeconds = DEFAULT_MAX_RETRY_AFTER_SECONDS;
  if (entry['max_retry_after_seconds'] !== undefined) {
    const given = entry['max_retry_after_seconds'];
    if (typeof given === 'number' && Number.isInteger(given) && given >= 0 && given <= 3600) maxRetryAfterSeconds = given;
    else report('max_retry_after_seconds must be an integer from 0 to 3600');
  }

  if (failed || url === undefined) return undefined;
  return { name, url, method, headers, verifyTls, maxRetryAfterMs: maxRetryAfterSeconds * 1000, secrets };
}

/**
 * Replaces each `${VAR}` with the environment's value, so credentials stay in the environment (or a Secret) rather
 * than in the targets' JSON. A variable that is unset or empty is a problem naming it.
 */
function substituteVariables(
  text: string,
  env: NodeJS.ProcessEnv,
  where: string,
  report: (text: string) => void,
  secrets: string[],
): string | undefined {
  let ok = true;
  const result = text.replace(VARIABLE, (_whole, variable: string) => {
    if (!VARIABLE_NAME.test(variable)) {
      ok = false;
      report(`${where} has a malformed \${…} (a variable name is letters, digits and _)`);
      return '';
    }
    const value = env[variable];
    if (value === undefined || value === '') {
      ok = false;
      report(`${where} uses \${${variable}}, which is not set`);
      return '';
    }
    secrets.push(value);
    return value;
  });
  return ok ? result : undefined;
}

function parseTargetUrl(text: string, report: (text: string) => void): URL | undefined {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    report('url is not a valid URL');
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    report('url must be an http(s) URL');
    return undefined;
  }
  if (url.username !== '' || url.password !== '') {
    report('url must not contain credentials (send them in headers)');
    return undefined;
  }
  if (url.hash !== '') {
    report('url must not have a #fragment');
    return undefined;
  }
  return url;
}

/** names from the JSON, shortened and stripped of control characters before they go into an error */
function safeName(name: string): string {
  // eslint-disable-next-line no-control-regex
  return name.replace(/[\u0000-\u001f\u007f]/g, '?').slice(0, 64);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
