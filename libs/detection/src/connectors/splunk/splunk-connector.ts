import 'reflect-metadata';
import { Clock, systemClock } from '../../semantics/clock';
import { backslashEscape, CONTROL_CHARACTERS, pipelineCommandOf, refuseCharacters, REGEX_METACHARACTERS } from '../../semantics/literal-escaping';
import { PlaceholderContext, QuerySyntax, UnsafeValueError } from '../../semantics/query-template';
import { ConnectorError, DetectionConnector, MatchedEvent, SearchOutcome, SearchRequest } from '../connector';
import { HttpAnswer } from '../http-client';
import { callProduct } from '../product-http';
import { parseSplunkExport, parseSplunkTime, splunkErrorText } from './splunk-export';
import { SplunkSettings } from './splunk-settings';

/** A search's export is read up to this size; the events beyond it only count as "at least this many". */
const MAX_EXPORT_BYTES = 5 * 1024 * 1024;
/** evidence kept per match */
const MAX_EVIDENCE = 20;

/**
 * SPL string literals: double quotes, backslash escapes. A value is escaped for the inside of one (`\` and `"`
 * backslash-escaped; control characters, which could end the search line, become spaces), and for what reads it:
 * - in a search (the first segment, `search`, `tstats`, a subsearch: anywhere but `eval` and `where`) `*` is a
 *   wildcard, even quoted, and SPL cannot escape it: a value holding `*` is refused (a host `*` would match every host);
 * - after `regex`/`rex`, and as the pattern of `match()`/`replace()`, regex metacharacters are backslash-escaped;
 * - as the pattern of `like()`, `%` and `_` are wildcards SPL cannot escape: refused;
 * - inside `'…'` (a field name in eval and where) nothing is a string: refused.
 */
export const SPLUNK_QUERY_SYNTAX: QuerySyntax = {
  quote: '"',
  escapeChar: '\\',
  escape: (value, context) => splStringEscape(context ? splLiteral(value, context) : value),
  otherStrings: [
    {
      open: "'",
      close: "'",
      escape: () => {
        throw new UnsafeValueError("stands inside '…', which SPL reads as a field name: put the placeholder bare or inside \"…\"");
      },
    },
  ],
  formatTime: (time) => String(Math.floor(time.getTime() / 1000)),
};

function splStringEscape(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(CONTROL_CHARACTERS, ' ');
}

/** The value as the text SPL's operator must see to match it literally (before string escaping). */
function splLiteral(value: string, context: PlaceholderContext): string {
  const command = pipelineCommandOf(context.lead, 'search');
  if (command === 'regex' || command === 'rex' || /\b(?:match|replace)\s*\(\s*[^,()]*,\s*$/i.test(context.lead)) {
    return backslashEscape(value, REGEX_METACHARACTERS);
  }
  if (/\blike\s*\(\s*[^,()]*,\s*$/i.test(context.lead)) {
    refuseCharacters(value, '%_', 'which like() reads as wildcards and SPL cannot escape');
    return value;
  }
  // only eval and where compare strings as they are; everything else (search, tstats, a subsearch…) reads `*`
  const literal = (command === 'where' || command === 'eval') && !/\bsearchmatch\s*\([^()]*$/i.test(context.lead);
  if (!literal) refuseCharacters(value, '*', "which SPL's search reads as a wildcard even inside quotes and cannot escape");
  return value;
}

/**
 * Splunk through its REST API: `POST /services/search/jobs/export` (form: search, earliest_time, latest_time,
 * output_mode=json), authenticated with a token (`Authorization: Bearer`) or basic auth. Failures as every connector
 * ({@link callProduct}); a FATAL/ERROR message in a 200 export is a refused search.
 */
export class SplunkConnector implements DetectionConnector {
  readonly name = 'splunk';
  readonly syntax = SPLUNK_QUERY_SYNTAX;
  private readonly exportUrl: URL;
  private readonly authorization: string;

  constructor(
    private readonly settings: SplunkSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.exportUrl = new URL(`${settings.url}/services/search/jobs/export`);
    this.authorization =
      'token' in settings.auth
        ? `Bearer ${settings.auth.token}`
        : `Basic ${Buffer.from(`${settings.auth.username}:${settings.auth.password}`).toString('base64')}`;
  }

  async search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome> {
    const search = asSearchCommand(request.query);
    const form = new URLSearchParams({
      search,
      earliest_time: SPLUNK_QUERY_SYNTAX.formatTime(request.earliest),
      latest_time: SPLUNK_QUERY_SYNTAX.formatTime(request.latest),
      output_mode: 'json',
    });
    const answer = await callProduct(
      {
        method: 'POST',
        url: this.exportUrl,
        headers: {
          authorization: this.authorization,
          'content-type': 'application/x-www-form-urlencoded',
          accept: 'application/json',
        },
        body: form.toString(),
        signal,
        verifyTls: this.settings.verifyTls,
        maxBodyBytes: MAX_EXPORT_BYTES,
      },
      {
        product: 'splunk',
        timeoutMs: request.timeoutMs,
        maxRetryAfterMs: this.settings.maxRetryAfterMs,
        clock: this.clock,
        describeError: (failed) => splunkErrorText(parseSplunkExport(failed.body, failed.truncated).messages),
      },
    );
    return this.outcomeOf(answer, request, search);
  }

  private outcomeOf(answer: HttpAnswer, request: SearchRequest, search: string): SearchOutcome {
    const exported = parseSplunkExport(answer.body, answer.truncated);
    const error = splunkErrorText(exported.messages);
    if (error !== undefined) throw new ConnectorError(`splunk refused the search: ${error}`, false);
    const link = this.settings.webUrl
      ? `${this.settings.webUrl}/app/search/search?${new URLSearchParams({
          q: search,
          earliest: SPLUNK_QUERY_SYNTAX.formatTime(request.earliest),
          latest: SPLUNK_QUERY_SYNTAX.formatTime(request.latest),
        })}`
      : undefined;
    const events: MatchedEvent[] = exported.results.slice(0, MAX_EVIDENCE).map((result) => {
      const id = firstText(result['_cd'], result['event_id'], result['_serial']);
      const eventTime = parseSplunkTime(result['_time']);
      return { ...(id !== undefined && { id }), ...(link !== undefined && { link }), ...(eventTime && { eventTime }) };
    });
    return { eventsFound: exported.results.length, events, rawOutput: answer.body };
  }
}

/** The export endpoint needs a search command first: `search …` or a generating `| …` command. */
export function asSearchCommand(query: string): string {
  const trimmed = query.trim();
  return trimmed.startsWith('|') || /^search\s/i.test(trimmed) ? trimmed : `search ${trimmed}`;
}

function firstText(...values: unknown[]): string | undefined {
  for (const value of values) if ((typeof value === 'string' && value !== '') || typeof value === 'number') return String(value);
  return undefined;
}
