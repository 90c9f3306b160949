import { JSONPath } from 'jsonpath-plus';
import { Clock, systemClock } from '../../semantics/clock';
import { QuerySyntax, renderQueryTemplate, TemplateError } from '../../semantics/query-template';
import { ConnectorError, DetectionConnector, MatchedEvent, SearchOutcome, SearchRequest } from '../connector';
import { HttpAnswer } from '../http-client';
import { callProduct, jsonBodyOf } from '../product-http';
import { placeholderValues } from '../../semantics/run-detection';
import { HttpConnectorSettings, HttpTarget, loadHttpConnectorSettings } from './http-settings';

/** An answer is read up to this size; a larger one is a final error (a match_path cannot run on half a document). */
const MAX_ANSWER_BYTES = 5 * 1024 * 1024;
/** evidence kept per match */
const MAX_EVIDENCE = 20;
const MAX_PATH_LENGTH = 1000;
const PATH_KEYS = ['match_path', 'count_path', 'id_path', 'time_path', 'link_path'] as const;
type PathKey = (typeof PATH_KEYS)[number];

/**
 * JSON string literals (RFC 8259), since request bodies are usually JSON: a value is escaped for the inside of a
 * string (`\` and `"` backslash-escaped, control characters and U+2028/U+2029 as `\uXXXX`), so a value such as
 * `x"}, "size": 10000, "a": {"` stays one string. `{{earliest}}`/`{{latest}}` are ISO 8601 (UTC).
 */
export const JSON_QUERY_SYNTAX: QuerySyntax = {
  quote: '"',
  escapeChar: '\\',
  escape: (value) =>
    // eslint-disable-next-line no-control-regex
    value.replace(/[\\"\u0000-\u001f\u007f\u2028\u2029]/g, (char) =>
      char === '\\' ? '\\\\' : char === '"' ? '\\"' : `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`,
    ),
  formatTime: (time) => time.toISOString(),
};

/**
 * Query-string values are inserted as they are: each parameter is URL-encoded on its own, so a value cannot add
 * parameters or change the target.
 */
const QUERY_PARAM_SYNTAX: QuerySyntax = { quote: '', escape: (value) => value, formatTime: JSON_QUERY_SYNTAX.formatTime };

/** What the task asks for in `detection_config`: the target, the query string, and how to read the answer. */
interface HttpSearchSpec {
  target: HttpTarget;
  queryParams: Array<[string, string]>;
  paths: Partial<Record<PathKey, string>>;
}

/**
 * A JSON search API with no connector of its own (an EDR, a SOAR, a SIEM's REST search). The operator configures
 * named targets (URL, method, headers with credentials); the task picks one with `detection_config.target`, gives
 * the request body as its query (a template) and `query_params`, and says with JSONPath what in the answer is a
 * match (`match_path`), and optionally its `count_path`, and per match its `id_path`, `time_path`, `link_path`.
 * Failures as every connector ({@link callProduct}).
 */
export class HttpConnector implements DetectionConnector {
  readonly name = 'http';
  readonly syntax = JSON_QUERY_SYNTAX;

  readonly secrets: readonly string[];

  constructor(
    private readonly settings: HttpConnectorSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.secrets = [...settings.targets.values()].flatMap((target) => target.secrets);
  }

  async search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome> {
    const spec = this.specOf(request);
    const { target } = spec;
    const product = `http target "${target.name}"`;
    const url = new URL(target.url);
    for (const [name, value] of spec.queryParams) url.searchParams.append(name, value);
    const body = target.method === 'POST' ? request.query : undefined;

    const answer = await callProduct(
      { method: target.method, url, headers: headersFor(target, body), body, signal, verifyTls: target.verifyTls, maxBodyBytes: MAX_ANSWER_BYTES },
      {
        product,
        timeoutMs: request.timeoutMs,
        maxRetryAfterMs: target.maxRetryAfterMs,
        clock: this.clock,
        describeError: (failed) => scrub(errorTextOf(failed), target.secrets),
      },
    );
    return outcomeOf(product, answer, spec);
  }

  /** The task's target and paths; a malformed `detection_config` is a final error (it would fail every time). */
  private specOf(request: SearchRequest): HttpSearchSpec {
    const config = (request.task.detection_config ?? {}) as Record<string, unknown>;
    const target = this.targetOf(config['target']);
    const paths: HttpSearchSpec['paths'] = {};
    for (const key of PATH_KEYS) {
      if (config[key] === undefined) continue;
      paths[key] = checkedPath(key, config[key]);
    }
    if (paths.match_path === undefined && paths.count_path === undefined) {
      throw new ConnectorError('http: detection_config.match_path (or count_path) is missing: it says what in the answer is a match', false);
    }
    return { target, queryParams: queryParamsOf(config['query_params'], request, target), paths };
  }

  private targetOf(name: unknown): HttpTarget {
    const names = [...this.settings.targets.keys()];
    if (name === undefined || name === null || name === '') {
      if (names.length === 1) return this.settings.targets.get(names[0]) as HttpTarget;
      throw new ConnectorError(`http: detection_config.target is missing: several targets are configured (${names.join(', ')})`, false);
    }
    const target = typeof name === 'string' ? this.settings.targets.get(name) : undefined;
    if (!target) {
      throw new ConnectorError(`http: detection_config.target names no configured target (configured: ${names.join(', ')})`, false);
    }
    return target;
  }
}

/** The target's headers, with an Accept and (for a body) a Content-Type unless the operator set them. */
function headersFor(target: HttpTarget, body: string | undefined): Record<string, string> {
  const defaults: Record<string, string> = { accept: 'application/json' };
  if (body !== undefined) defaults['content-type'] = looksLikeJson(body) ? 'application/json' : 'text/plain; charset=utf-8';
  const configured = new Set(Object.keys(target.headers).map((name) => name.toLowerCase()));
  const kept = Object.entries(defaults).filter(([name]) => !configured.has(name));
  return { ...Object.fromEntries(kept), ...target.headers };
}

/**
 * `detection_config.query_params`: each value a template of its own (placeholders inserted as they are; the value
 * is then URL-encoded). A task may add parameters but not replace the ones in the target's URL (an API key there).
 */
function queryParamsOf(raw: unknown, request: SearchRequest, target: HttpTarget): Array<[string, string]> {
  if (raw === undefined || raw === null) return [];
  if (typeof raw !== 'object' || Array.isArray(raw)) throw new ConnectorError('http: detection_config.query_params must be an object', false);
  const values = placeholderValues(request.task, request, QUERY_PARAM_SYNTAX);
  return Object.entries(raw as Record<string, unknown>).map(([name, value]) => {
    if (name === '' || name.length > 200) throw new ConnectorError('http: detection_config.query_params has an empty or overlong name', false);
    if (target.url.searchParams.has(name)) {
      throw new ConnectorError(`http: detection_config.query_params.${name} is set by the target "${target.name}" and cannot be replaced`, false);
    }
    if (typeof value === 'number' || typeof value === 'boolean') return [name, String(value)];
    if (typeof value !== 'string') throw new ConnectorError(`http: detection_config.query_params.${name} must be text, a number or a boolean`, false);
    try {
      return [name, renderQueryTemplate(value, values, QUERY_PARAM_SYNTAX)];
    } catch (error) {
      if (error instanceof TemplateError) throw new ConnectorError(`http: detection_config.query_params.${name}: ${error.message}`, false);
      throw error;
    }
  });
}

function outcomeOf(product: string, answer: HttpAnswer, spec: HttpSearchSpec): SearchOutcome {
  const body = jsonBodyOf(product, answer);
  const { paths } = spec;
  let items: unknown[] = [];
  if (paths.match_path !== undefined) {
    const results = evaluatePath('match_path', paths.match_path, body);
    // `$.data` selecting the result list itself means its elements
    items = results.length === 1 && Array.isArray(results[0]) ? results[0] : results;
  }
  let eventsFound = items.length;
  if (paths.count_path !== undefined) {
    const count = countOf(evaluatePath('count_path', paths.count_path, body)[0]);
    if (count === undefined) throw new ConnectorError(`${product} returned no count (a number) at detection_config.count_path`, false);
    // the product's total counts matches beyond the page it returned; never fewer than the items in hand
    eventsFound = Math.max(count, items.length);
  }
  const events = items.slice(0, MAX_EVIDENCE).map((item) => evidenceOf(item, paths));
  return { eventsFound, events, rawOutput: scrub(answer.body, spec.target.secrets) ?? '' };
}

function evidenceOf(item: unknown, paths: HttpSearchSpec['paths']): MatchedEvent {
  const at = (key: PathKey) => (paths[key] === undefined ? undefined : evaluatePath(key, paths[key] as string, item)[0]);
  const id = textOf(at('id_path'));
  const link = linkOf(at('link_path'));
  const eventTime = timeOf(at('time_path'));
  return { ...(id !== undefined && { id }), ...(link !== undefined && { link }), ...(eventTime && { eventTime }) };
}

/**
 * Runs a JSONPath with jsonpath-plus's safe evaluator (filters such as `[?(@.severity > 3)]` never reach native
 * eval). A filter that fails on one item (a field it lacks) skips that item; a path that does not parse is a final
 * error with the parser's reason.
 */
function evaluatePath(key: PathKey, path: string, json: unknown): unknown[] {
  if (json === undefined || json === null) return [];
  try {
    const result: unknown = JSONPath({ path, json: json as object, eval: 'safe', ignoreEvalErrors: true, wrap: true });
    return Array.isArray(result) ? result : [];
  } catch (error) {
    // the parser counts characters in its own rewrite of the filter, not in the task's path: drop the position
    const reason = ((error as Error)?.message ?? String(error)).replace(/ at character \d+/, '');
    throw invalidPath(key, reason.slice(0, 300));
  }
}

/**
 * Catches what jsonpath-plus accepts silently (it reads `$.a[0` as `$.a[0]` and `$.a]` as nothing): unbalanced
 * brackets, parentheses or quotes. Paths relative to an item may start with `@`, read as `$`.
 */
function checkedPath(key: PathKey, raw: unknown): string {
  if (typeof raw !== 'string' || raw.trim() === '') throw invalidPath(key, 'it must be a non-empty string');
  if (raw.length > MAX_PATH_LENGTH) throw invalidPath(key, `it is longer than ${MAX_PATH_LENGTH} characters`);
  const path = raw.trim().replace(/^@/, '$');
  const open: string[] = [];
  let quote: string | undefined;
  for (let i = 0; i < path.length; i++) {
    const char = path[i];
    if (quote !== undefined) {
      if (char === '\\') i++;
      else if (char === quote) quote = undefined;
    } else if (char === '"' || char === "'") {
      quote = char;
    } else if (char === '[' || char === '(') {
      open.push(char);
    } else if ((char === ']' || char === ')') && open.pop() !== (char === ']' ? '[' : '(')) {
      throw invalidPath(key, `unbalanced "${char}" at character ${i + 1}`);
    }
  }
  if (quote !== undefined || open.length > 0) throw invalidPath(key, 'an unclosed bracket, parenthesis or quote');
  return path;
}

function invalidPath(key: PathKey, reason: string): ConnectorError {
  return new ConnectorError(`http: detection_config.${key} is not a valid JSONPath: ${reason}`, false);
}

function textOf(value: unknown): string | undefined {
  if (typeof value === 'string' && value !== '') return value;
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return undefined;
}

function countOf(value: unknown): number | undefined {
  const count = typeof value === 'string' && /^\d+$/.test(value.trim()) ? Number(value) : value;
  return typeof count === 'number' && Number.isInteger(count) && count >= 0 ? count : undefined;
}

/** Only http(s) links: evidence is shown to people, and a `javascript:` link must not reach them. */
function linkOf(value: unknown): string | undefined {
  if (typeof value !== 'string') return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.toString() : undefined;
  } catch {
    return undefined;
  }
}

/** ISO 8601 text, or epoch seconds (or milliseconds, for values too large to be seconds) as a number or digits. */
function timeOf(value: unknown): Date | undefined {
  let time: number;
  if (typeof value === 'number' || (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim()))) {
    const epoch = Number(value);
    time = epoch < 1e11 ? epoch * 1000 : epoch;
  } else if (typeof value === 'string') {
    time = Date.parse(value);
  } else {
    return undefined;
  }
  return Number.isFinite(time) ? new Date(time) : undefined;
}

/** The product's own explanation of a failed request, from the usual JSON error shapes. */
function errorTextOf(answer: HttpAnswer): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return undefined;
  }
  if (typeof body !== 'object' || body === null) return undefined;
  const record = body as Record<string, unknown>;
  const error = record['error'];
  const errors = record['errors'];
  const candidates = [
    record['message'],
    typeof error === 'object' && error !== null ? (error as Record<string, unknown>)['message'] : error,
    Array.isArray(errors) && typeof errors[0] === 'object' && errors[0] !== null ? (errors[0] as Record<string, unknown>)['message'] : undefined,
    record['detail'],
    record['error_description'],
    record['title'],
  ];
  return candidates.find((candidate): candidate is string => typeof candidate === 'string' && candidate.trim() !== '');
}

/** Removes the target's credentials from text a product sent back (some echo the request), before anyone sees it. */
function scrub(text: string | undefined, secrets: string[]): string | undefined {
  if (text === undefined) return undefined;
  // very short values would blank out ordinary text; credentials are longer
  return secrets.filter((secret) => secret.length >= 4).reduce((out, secret) => out.split(secret).join('[redacted]'), text);
}

function looksLikeJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}

/** `http` when HTTP_CONNECTOR_TARGETS (or HTTP_CONNECTOR_TARGETS_FILE) is set; a ConfigError when it is malformed. */
export function httpConnectorsFromEnv(env: NodeJS.ProcessEnv): DetectionConnector[] {
  const settings = loadHttpConnectorSettings(env);
  return settings ? [new HttpConnector(settings)] : [];
}
