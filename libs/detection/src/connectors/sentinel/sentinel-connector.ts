import 'reflect-metadata';
import { Clock, systemClock } from '../../semantics/clock';
import { backslashEscape, CONTROL_CHARACTERS, pipelineCommandOf, refuseCharacters, REGEX_METACHARACTERS } from '../../semantics/literal-escaping';
import { PlaceholderContext, QuerySyntax, UnsafeValueError } from '../../semantics/query-template';
import { SENTINEL_ACTION_COLUMNS, sentinelRowAction } from '../detection-action';
import { ConnectorError, DetectionConnector, MatchedEvent, SearchOutcome, SearchRequest } from '../connector';
import { HttpAnswer } from '../http-client';
import { ClientCredentialsToken } from '../oauth/client-credentials-token';
import { callProduct, jsonBodyOf, jsonObjectOf } from '../product-http';
import { SentinelSettings } from './sentinel-settings';

/** A query's answer is read up to this size (end the query with `| take 20` or a `summarize` to stay well below). */
const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
/** evidence kept per match */
const MAX_EVIDENCE = 20;
/** where a row's id comes from: the first of these columns the query returns with a value */
export const SENTINEL_ID_COLUMNS = ['SystemAlertId', '_ItemId', 'EventRecordId', 'EventOriginId', 'ReportId', 'Id'];
/** where a row's event time comes from */
export const SENTINEL_TIME_COLUMNS = ['TimeGenerated', 'TimeCreated', 'timestamp', 'Timestamp'];

/**
 * KQL string literals, in every form the language has, each escaped its own way: `"…"` and `'…'` (backslash escapes),
 * verbatim `@"…"` and `@'…'` (the quote doubled, backslashes plain), and multi-line ```` ```…``` ```` (no escapes: a
 * value holding ```` ``` ```` is refused). Control characters become spaces. After `matches regex` the value's regex
 * metacharacters are backslash-escaped; in a `search` (where `*` is a wildcard) a value holding `*` is refused.
 * `{{earliest}}`/`{{latest}}` are ISO 8601, e.g. `datetime({{earliest}})`.
 */
export const SENTINEL_QUERY_SYNTAX: QuerySyntax = {
  quote: '"',
  escapeChar: '\\',
  escape: (value, context) => kqlEscaped(kqlLiteral(value, context), '"'),
  otherStrings: [
    { open: "'", close: "'", escapeChar: '\\', escape: (value, context) => kqlEscaped(kqlLiteral(value, context), "'") },
    { open: '@"', close: '"', doubledClose: true, escape: (value, context) => kqlLiteral(value, context).replace(CONTROL_CHARACTERS, ' ').replace(/"/g, '""') },
    { open: "@'", close: "'", doubledClose: true, escape: (value, context) => kqlLiteral(value, context).replace(CONTROL_CHARACTERS, ' ').replace(/'/g, "''") },
    {
      open: '```',
      close: '```',
      escape: (value, context) => {
        if (value.includes('`')) throw new UnsafeValueError('holds "`", which a ```…``` string cannot escape: use "…"');
        return kqlLiteral(value, context);
      },
    },
  ],
  formatTime: (time) => time.toISOString(),
};

function kqlEscaped(value: string, quote: string): string {
  return value.replace(/\\/g, '\\\\').split(quote).join(`\\${quote}`).replace(CONTROL_CHARACTERS, ' ');
}

function kqlLiteral(value: string, context: PlaceholderContext | undefined): string {
  if (context === undefined) return value;
  if (/\bmatches\s+regex\s*$/i.test(context.lead)) return backslashEscape(value, REGEX_METACHARACTERS);
  const command = pipelineCommandOf(context.lead, /^\s*([A-Za-z_]+)/.exec(context.lead)?.[1]?.toLowerCase() ?? '');
  if (command === 'search' || command === 'find') refuseCharacters(value, '*', `which KQL's ${command} reads as a wildcard`);
  return value;
}

/**
 * Microsoft Sentinel through the Log Analytics query API of its workspace: `POST /v1/workspaces/{id}/query` with the
 * KQL and the window as `timespan`, authenticated with an Entra ID app registration (client credentials, scope
 * `https://api.loganalytics.io/.default`). Each row of the primary result is a match. Failures as every connector
 * ({@link callProduct}).
 */
export class SentinelConnector implements DetectionConnector {
  readonly name = 'sentinel';
  readonly syntax = SENTINEL_QUERY_SYNTAX;
  private readonly token: ClientCredentialsToken;
  private readonly queryUrl: URL;

  constructor(
    private readonly settings: SentinelSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.queryUrl = new URL(`${settings.apiUrl}/v1/workspaces/${encodeURIComponent(settings.workspaceId)}/query`);
    this.token = new ClientCredentialsToken({
      product: 'sentinel',
      tokenUrl: new URL(`${settings.authorityUrl}/${encodeURIComponent(settings.tenantId)}/oauth2/v2.0/token`),
      form: {
        grant_type: 'client_credentials',
        client_id: settings.clientId,
        client_secret: settings.clientSecret,
        scope: settings.scope,
      },
      secret: settings.clientSecret,
      verifyTls: settings.verifyTls,
      maxRetryAfterMs: settings.maxRetryAfterMs,
      describeError: entraErrorText,
      clock,
    });
  }

  async search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome> {
    const deadline = this.clock.now() + request.timeoutMs;
    const body = JSON.stringify({ query: request.query, timespan: `${request.earliest.toISOString()}/${request.latest.toISOString()}` });
    const answer = await this.token.authorized(signal, request.timeoutMs, (authorization) =>
      callProduct(
        {
          method: 'POST',
          url: this.queryUrl,
          headers: { authorization, 'content-type': 'application/json', accept: 'application/json' },
          body,
          signal,
          verifyTls: this.settings.verifyTls,
          maxBodyBytes: MAX_RESPONSE_BYTES,
        },
        {
          product: 'sentinel',
          timeoutMs: Math.max(0, deadline - this.clock.now()),
          maxRetryAfterMs: this.settings.maxRetryAfterMs,
          clock: this.clock,
          describeError: logAnalyticsErrorText,
        },
      ),
    );
    return this.outcomeOf(answer);
  }

  private outcomeOf(answer: HttpAnswer): SearchOutcome {
    const body = jsonObjectOf('sentinel', answer);
    const error = isObject(body['error']) ? describeLogAnalyticsError(body['error']) : undefined;
    const table = primaryTable(body['tables']);
    if (table === undefined) {
      if (error !== undefined) throw new ConnectorError(`sentinel refused the query: ${error}`, false);
      throw new ConnectorError('sentinel returned a malformed response: no result table', false);
    }
    // a partial result (a part of the data could not be read) proves a match, but not a miss
    if (table.rows.length === 0 && error !== undefined) {
      throw new ConnectorError(`sentinel returned a partial result without rows: ${error}`, true);
    }
    const column = (names: string[]) => names.map((name) => table.columns.indexOf(name)).filter((index) => index >= 0);
    const idColumns = column(SENTINEL_ID_COLUMNS);
    const timeColumns = column(SENTINEL_TIME_COLUMNS);
    const linkColumns = column(['AlertLink']);
    const actionColumns = column(SENTINEL_ACTION_COLUMNS);
    const events: MatchedEvent[] = table.rows.slice(0, MAX_EVIDENCE).map((row) => {
      const id = first(idColumns.map((index) => text(row[index])));
      const eventTime = first(timeColumns.map((index) => timeOf(row[index])));
      const link = first(linkColumns.map((index) => text(row[index])).filter((value) => value && /^https?:\/\//.test(value))) ?? this.settings.portalUrl;
      const action = first(actionColumns.map((index) => sentinelRowAction(row[index])));
      return { ...(id !== undefined && { id }), ...(link !== undefined && { link }), ...(eventTime && { eventTime }), ...(action && { action }) };
    });
    return { eventsFound: table.rows.length, events, rawOutput: answer.body };
  }
}

/** `tables[]`: the one named PrimaryResult (else the first), with its column names and rows. */
function primaryTable(tables: unknown): { columns: string[]; rows: unknown[][] } | undefined {
  if (!Array.isArray(tables) || tables.length === 0) return undefined;
  const table = tables.find((t) => isObject(t) && t['name'] === 'PrimaryResult') ?? tables[0];
  if (!isObject(table) || !Array.isArray(table['columns']) || !Array.isArray(table['rows'])) {
    throw new ConnectorError('sentinel returned a malformed response: a table without columns and rows', false);
  }
  if (!table['rows'].every(Array.isArray)) throw new ConnectorError('sentinel returned a malformed response: a row is not a list', false);
  const columns = table['columns'].map((column) => (isObject(column) && typeof column['name'] === 'string' ? column['name'] : ''));
  return { columns, rows: table['rows'] as unknown[][] };
}

/** Log Analytics' own explanation: `{"error":{"code":"BadArgumentError","message":…,"innererror":{…}}}`. */
export function logAnalyticsErrorText(answer: HttpAnswer): string | undefined {
  let body: unknown;
  try {
    body = jsonBodyOf('sentinel', answer);
  } catch {
    return undefined;
  }
  return isObject(body) && isObject(body['error']) ? describeLogAnalyticsError(body['error']) : undefined;
}

/** `code: message` of the error and its nested `innererror`s, outermost first (the innermost says what is wrong). */
function describeLogAnalyticsError(error: Record<string, unknown>): string | undefined {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; isObject(current) && depth < 5; depth++) {
    const code = text(current['code']);
    const message = text(current['message']);
    if (code || message) parts.push([code, message].filter(Boolean).join(': '));
    current = current['innererror'];
  }
  return parts.length > 0 ? parts.join('; ').slice(0, 500) : undefined;
}

/** Entra ID's reason for refusing a token: `error: error_description`, without its trace and correlation ids. */
export function entraErrorText(answer: HttpAnswer): string | undefined {
  let body: unknown;
  try {
    body = jsonBodyOf('sentinel', answer);
  } catch {
    return undefined;
  }
  if (!isObject(body)) return undefined;
  const description = text(body['error_description'])?.split(/\r?\n/)[0];
  const parts = [text(body['error']), description].filter(Boolean);
  return parts.length > 0 ? parts.join(': ') : undefined;
}

function timeOf(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function text(value: unknown): string | undefined {
  if (typeof value === 'number') return String(value);
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function first<T>(values: Array<T | undefined>): T | undefined {
  return values.find((value) => value !== undefined);
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
