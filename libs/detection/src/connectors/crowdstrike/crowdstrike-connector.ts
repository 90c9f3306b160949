import 'reflect-metadata';
import { Clock, systemClock } from '../../semantics/clock';
import { CONTROL_CHARACTERS, refuseCharacters } from '../../semantics/literal-escaping';
import { QuerySyntax } from '../../semantics/query-template';
import { falconAlertAction } from '../detection-action';
import { ConnectorError, DetectionConnector, MatchedEvent, SearchOutcome, SearchRequest } from '../connector';
import { HttpAnswer, HttpCall } from '../http-client';
import { ClientCredentialsToken } from '../oauth/client-credentials-token';
import { callProduct, jsonBodyOf, jsonObjectOf } from '../product-http';
import { CrowdStrikeSettings } from './crowdstrike-settings';

/** alert ids asked for per search, and so the evidence kept; the total comes from the query's pagination */
const MAX_EVIDENCE = 20;
const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;

/**
 * FQL string literals: `'…'` (and `"…"`), backslash escapes. A value is escaped for the inside of one (`\\` and its
 * quote backslash-escaped; control characters become spaces). FQL reads `*` in a string as a wildcard and has no way
 * to escape it, so a value holding `*` is refused (a hostname `*` would match every host). `{{earliest}}`/`{{latest}}`
 * are ISO 8601 (UTC).
 */
export const CROWDSTRIKE_QUERY_SYNTAX: QuerySyntax = {
  quote: "'",
  escapeChar: '\\',
  escape: (value) => fqlEscaped(value, "'"),
  otherStrings: [{ open: '"', close: '"', escapeChar: '\\', escape: (value) => fqlEscaped(value, '"') }],
  formatTime: (time) => time.toISOString(),
};

function fqlEscaped(value: string, quote: string): string {
  refuseCharacters(value, '*', 'which FQL reads as a wildcard and cannot escape');
  return value.replace(/\\/g, '\\\\').split(quote).join(`\\${quote}`).replace(CONTROL_CHARACTERS, ' ');
}

/**
 * CrowdStrike Falcon through its Alerts API, with an OAuth2 API client (`POST /oauth2/token`):
 * `GET /alerts/queries/alerts/v2?filter=<FQL>` finds the ids of the alerts in the window, then
 * `POST /alerts/entities/alerts/v2` reads them for evidence. Failures as every connector ({@link callProduct});
 * a 429 waits for `X-RateLimit-RetryAfter` (epoch seconds) as for Retry-After.
 */
export class CrowdStrikeConnector implements DetectionConnector {
  readonly name = 'crowdstrike';
  readonly syntax = CROWDSTRIKE_QUERY_SYNTAX;
  private readonly token: ClientCredentialsToken;

  constructor(
    private readonly settings: CrowdStrikeSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.token = new ClientCredentialsToken({
      product: 'crowdstrike',
      tokenUrl: new URL(`${settings.baseUrl}/oauth2/token`),
      form: { client_id: settings.clientId, client_secret: settings.clientSecret },
      secret: settings.clientSecret,
      verifyTls: settings.verifyTls,
      maxRetryAfterMs: settings.maxRetryAfterMs,
      describeError: crowdStrikeErrorText,
      retryAfter: crowdStrikeRetryAfter,
      clock,
    });
  }

  async search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome> {
    const deadline = this.clock.now() + request.timeoutMs;
    const filter = alertFilter(request.query, request.earliest, request.latest);
    return this.token.authorized(signal, request.timeoutMs, async (authorization) => {
      const queryUrl = new URL(`${this.settings.baseUrl}/alerts/queries/alerts/v2`);
      queryUrl.search = new URLSearchParams({ filter, limit: String(MAX_EVIDENCE), sort: 'timestamp.desc' }).toString();
      const found = this.alertIds(await this.call({ method: 'GET', url: queryUrl, headers: { authorization }, signal }, deadline));
      if (found.ids.length === 0) return { eventsFound: found.total, events: [], rawOutput: found.body };

      const entitiesUrl = new URL(`${this.settings.baseUrl}/alerts/entities/alerts/v2`);
      const body = JSON.stringify({ composite_ids: found.ids });
      const headers = { authorization, 'content-type': 'application/json' };
      const alerts = await this.call({ method: 'POST', url: entitiesUrl, headers, body, signal }, deadline);
      return { eventsFound: found.total, events: this.evidenceOf(alerts), rawOutput: alerts.body };
    });
  }

  private call(call: Omit<HttpCall, 'verifyTls' | 'maxBodyBytes'>, deadline: number): Promise<HttpAnswer> {
    return callProduct(
      { ...call, headers: { accept: 'application/json', ...call.headers }, verifyTls: this.settings.verifyTls, maxBodyBytes: MAX_RESPONSE_BYTES },
      {
        product: 'crowdstrike',
        // both requests share the search's time
        timeoutMs: Math.max(0, deadline - this.clock.now()),
        maxRetryAfterMs: this.settings.maxRetryAfterMs,
        clock: this.clock,
        describeError: crowdStrikeErrorText,
        retryAfter: crowdStrikeRetryAfter,
      },
    );
  }

  /** `{resources: [composite ids], meta: {pagination: {total}}, errors: []}` */
  private alertIds(answer: HttpAnswer): { ids: string[]; total: number; body: string } {
    const body = jsonObjectOf('crowdstrike', answer);
    refuseOnErrors(body);
    const resources = body['resources'] ?? [];
    if (!Array.isArray(resources) || !resources.every((id) => typeof id === 'string')) {
      throw new ConnectorError('crowdstrike returned a malformed response: resources is not a list of alert ids', false);
    }
    const pagination = (body['meta'] as { pagination?: { total?: unknown } } | undefined)?.pagination;
    const total = typeof pagination?.total === 'number' && pagination.total >= resources.length ? pagination.total : resources.length;
    return { ids: resources as string[], total, body: answer.body };
  }

  /** `{resources: [{composite_id, timestamp, falcon_host_link, …}]}` */
  private evidenceOf(answer: HttpAnswer): MatchedEvent[] {
    const body = jsonObjectOf('crowdstrike', answer);
    refuseOnErrors(body);
    const resources = body['resources'];
    if (!Array.isArray(resources)) throw new ConnectorError('crowdstrike returned a malformed response: no alerts in resources', false);
    return resources.filter(isObject).map((alert) => {
      const id = text(alert['composite_id']) ?? text(alert['id']);
      const eventTime = timeOf(alert['timestamp']) ?? timeOf(alert['created_timestamp']);
      const hostLink = text(alert['falcon_host_link']);
      const link = hostLink && /^https?:\/\//.test(hostLink) ? hostLink : id && `${this.settings.consoleUrl}/unified-detections/${encodeURIComponent(id).replace(/%3A/gi, ':')}`;
      const action = falconAlertAction(alert);
      return { ...(id !== undefined && { id }), ...(link && { link }), ...(eventTime && { eventTime }), ...(action && { action }) };
    });
  }
}

/** The task's FQL, limited to the window: `(<query>)+timestamp:>='<earliest>'+timestamp:<='<latest>'`. */
export function alertFilter(query: string, earliest: Date, latest: Date): string {
  const time = CROWDSTRIKE_QUERY_SYNTAX.formatTime;
  const window = `timestamp:>='${time(earliest)}'+timestamp:<='${time(latest)}'`;
  const trimmed = query.trim();
  // the parentheses keep a query's `,` (OR) from escaping the window
  return trimmed === '' ? window : `(${trimmed})+${window}`;
}

/** CrowdStrike's own explanation: the messages of `{"errors":[{"code":…,"message":…}]}`. */
export function crowdStrikeErrorText(answer: HttpAnswer): string | undefined {
  let body: unknown;
  try {
    body = jsonBodyOf('crowdstrike', answer);
  } catch {
    return undefined;
  }
  return errorMessages(body);
}

/** `X-RateLimit-RetryAfter`: the epoch second from which CrowdStrike takes requests again, as a wait. */
export function crowdStrikeRetryAfter(answer: HttpAnswer, now: number): number | undefined {
  const header = answer.headers['x-ratelimit-retryafter'];
  const value = (Array.isArray(header) ? header[0] : header)?.trim();
  if (value === undefined || !/^\d+$/.test(value)) return undefined;
  return Math.max(0, Number(value) * 1000 - now);
}

/** A 200 that carries errors (an FQL the service could not apply) is a refused search, not an empty one. */
function refuseOnErrors(body: Record<string, unknown>): void {
  const messages = errorMessages(body);
  if (messages !== undefined) throw new ConnectorError(`crowdstrike refused the search: ${messages}`, false);
}

function errorMessages(body: unknown): string | undefined {
  const errors = isObject(body) && Array.isArray(body['errors']) ? body['errors'].filter(isObject) : [];
  const messages = errors.map((error) => text(error['message']) ?? `code ${String(error['code'])}`);
  return messages.length > 0 ? messages.join('; ').slice(0, 500) : undefined;
}

function timeOf(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const time = Date.parse(value);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function text(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
