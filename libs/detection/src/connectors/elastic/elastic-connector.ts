import 'reflect-metadata';
import type { DetectionTaskMessage } from '@purple/contracts';
import { Clock, systemClock } from '../../semantics/clock';
import { backslashEscape, CONTROL_CHARACTERS, LUCENE_REGEX_METACHARACTERS, refuseCharacters } from '../../semantics/literal-escaping';
import { PlaceholderContext, QuerySyntax } from '../../semantics/query-template';
import { ConnectorError, DetectionConnector, MatchedEvent, SearchOutcome, SearchRequest } from '../connector';
import { callProduct, jsonObjectOf } from '../product-http';
import { ElasticHit, ElasticResult, elasticErrorText, fieldOf, parseElasticTime, parseEqlResponse, parseSearchResponse } from './elastic-response';
import { ElasticSettings, indexPathSegment } from './elastic-settings';

/** Twenty hits are plenty of evidence; their sources can be large, so the answer is read up to this size. */
const MAX_RESPONSE_BYTES = 5 * 1024 * 1024;
/** evidence kept per match (and `size` of every search) */
const MAX_EVIDENCE = 20;

/**
 * The Query DSL's strings are JSON strings: `\` and `"` backslash-escaped, control characters become spaces. Times are
 * ISO 8601, which `strict_date_optional_time` (the default date format) reads. Where the string is read as a pattern
 * the value is escaped for it first: in a `wildcard` query `*`, `?` and `\` get a backslash, in a `regexp` query
 * regex metacharacters do, and in a `query_string`/`simple_query_string` every reserved character does.
 */
export const ELASTIC_QUERY_SYNTAX: QuerySyntax = {
  quote: '"',
  escapeChar: '\\',
  escape: (value, context) => stringEscape(context ? dslLiteral(value, context) : value),
  formatTime: (time) => time.toISOString(),
};

const QUERY_STRING_RESERVED = '\\+-=&|><!(){}[]^"~*?:/ ';
/** the innermost query the placeholder stands in, as far as the text before it shows */
const DSL_PATTERN_QUERY = /"(wildcard|regexp|query_string|simple_query_string|term|terms|match|match_phrase|prefix)"\s*:\s*\{[^{}]*(?:\{[^{}]*)?$/;

function dslLiteral(value: string, context: PlaceholderContext): string {
  const query = DSL_PATTERN_QUERY.exec(context.lead)?.[1];
  if (query === 'wildcard') return backslashEscape(value, '\\*?');
  if (query === 'regexp') return backslashEscape(value, LUCENE_REGEX_METACHARACTERS);
  if (query === 'query_string' || query === 'simple_query_string') return backslashEscape(value, QUERY_STRING_RESERVED);
  return value;
}

/**
 * Lucene `query_string` (the `lucene` and `kql` languages): a value becomes a phrase `"…"`, inside which `*` and `?`
 * are plain characters (a host `*` is the term `*`, not every host). Inside a template's `/…/` (a regular
 * expression) the value's regex metacharacters are backslash-escaped.
 */
export const LUCENE_QUERY_SYNTAX: QuerySyntax = {
  ...ELASTIC_QUERY_SYNTAX,
  escape: (value) => stringEscape(value),
  escapesOutsideStrings: true,
  otherStrings: [{ open: '/', close: '/', escapeChar: '\\', escape: (value) => stringEscape(backslashEscape(value, LUCENE_REGEX_METACHARACTERS)) }],
};

/**
 * EQL strings: `"…"` with backslash escapes, and raw `"""…"""` without any. What reads the string decides the rest:
 * after `:`, `like`, `like~` or in `wildcard()` the characters `*` and `?` are wildcards that EQL cannot escape, so a
 * value holding them is refused there; after `regex`/`regex~` regex metacharacters are backslash-escaped; after
 * `==`, `!=`, `in` and in functions such as `stringContains()` the value is compared as it is.
 */
export const EQL_QUERY_SYNTAX: QuerySyntax = {
  ...ELASTIC_QUERY_SYNTAX,
  escape: (value, context) => stringEscape(context ? eqlLiteral(value, context) : value),
  otherStrings: [
    {
      open: '"""',
      close: '"""',
      escape: (value, context) => {
        refuseCharacters(value, '"', 'which a raw """…""" string cannot hold: use "…"');
        return eqlLiteral(value, context).replace(CONTROL_CHARACTERS, ' ');
      },
    },
  ],
};

function stringEscape(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/[\u0000-\u001f\u007f\u2028\u2029]/g, ' ');
}

/** the comparison before an EQL string, past the strings already in a `( "a", "b", ` list */
const EQL_OPERATOR = /(:|\blike~?|\bregex~?|==|!=|\bin~?|\bwildcard\s*\([^,()]*,)\s*(?:\(\s*(?:"(?:[^"\\]|\\.)*"\s*,\s*)*)?$/i;

function eqlLiteral(value: string, context: PlaceholderContext): string {
  const operator = EQL_OPERATOR.exec(context.lead)?.[1]?.toLowerCase() ?? '';
  if (operator.startsWith('regex')) return backslashEscape(value, LUCENE_REGEX_METACHARACTERS);
  if (operator === ':' || operator.startsWith('like') || operator.startsWith('wildcard')) {
    refuseCharacters(value, '*?', `which EQL's ${operator.startsWith('wildcard') ? 'wildcard()' : operator} reads as wildcards and cannot escape`);
  }
  return value;
}

/** The string syntax of the task's query language (the connector's default when the language is not valid). */
export function elasticSyntaxOf(task: DetectionTaskMessage): QuerySyntax {
  let language: ElasticQueryLanguage;
  try {
    language = queryLanguageOf(task);
  } catch {
    // the search refuses the language with its own message
    return ELASTIC_QUERY_SYNTAX;
  }
  return language === 'eql' ? EQL_QUERY_SYNTAX : language === 'dsl' ? ELASTIC_QUERY_SYNTAX : LUCENE_QUERY_SYNTAX;
}

/**
 * How a task's query is written: `lucene` (also `kql`, run the same way) → a `query_string` query; `eql` → the EQL
 * search API; `dsl` → the content is a Query DSL object.
 */
export const ELASTIC_QUERY_LANGUAGES = ['lucene', 'kql', 'eql', 'dsl'] as const;
export type ElasticQueryLanguage = (typeof ELASTIC_QUERY_LANGUAGES)[number];

/**
 * Elasticsearch (and OpenSearch, which keeps the same search API) through its REST API: `POST /<index>/_search` with a
 * `bool` filter of the window's `range` and the task's query, or `POST /<index>/_eql/search` for EQL; authenticated
 * with an API key (`Authorization: ApiKey`) or basic auth. Failures as every connector ({@link callProduct}), with the
 * product's `{"error":{"type","reason"}}` as the reason.
 */
export class ElasticConnector implements DetectionConnector {
  readonly name: string;
  readonly syntax = ELASTIC_QUERY_SYNTAX;
  readonly syntaxFor = elasticSyntaxOf;
  private readonly authorization: string;

  constructor(
    private readonly settings: ElasticSettings,
    private readonly clock: Clock = systemClock,
  ) {
    this.name = settings.product;
    this.authorization =
      'apiKey' in settings.auth
        ? `ApiKey ${settings.auth.apiKey}`
        : `Basic ${Buffer.from(`${settings.auth.username}:${settings.auth.password}`).toString('base64')}`;
  }

  async search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome> {
    const config = (request.task.detection_config ?? {}) as Record<string, unknown>;
    const language = queryLanguageOf(request.task, this.name);
    const timestampField = this.textSetting(config, 'timestamp_field') ?? this.settings.timestampField;
    const index = indexPathSegment(this.textSetting(config, 'index') ?? this.settings.index);
    if (index === undefined) {
      throw new ConnectorError(`${this.name}: detection_config.index must be a comma-separated list of index names or patterns`, false);
    }
    const eql = language === 'eql';
    if (eql && this.name === 'opensearch') throw new ConnectorError('opensearch has no EQL API: use lucene or dsl', false);
    const body = eql
      ? eqlSearchBody(request, timestampField)
      : querySearchBody(language === 'dsl' ? this.dslQueryOf(request.query) : { query_string: { query: request.query } }, request, timestampField);
    const answer = await callProduct(
      {
        method: 'POST',
        url: new URL(`${this.settings.url}/${index}/${eql ? '_eql/search' : '_search'}`),
        headers: { authorization: this.authorization, 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(body),
        signal,
        verifyTls: this.settings.verifyTls,
        maxBodyBytes: MAX_RESPONSE_BYTES,
      },
      {
        product: this.name,
        timeoutMs: request.timeoutMs,
        maxRetryAfterMs: this.settings.maxRetryAfterMs,
        clock: this.clock,
        describeError: elasticErrorText,
      },
    );
    const json = jsonObjectOf(this.name, answer);
    const result = eql ? parseEqlResponse(this.name, json) : parseSearchResponse(this.name, json);
    return this.outcomeOf(result, answer.body, timestampField);
  }

  private outcomeOf(result: ElasticResult, rawOutput: string, timestampField: string): SearchOutcome {
    // a miss over data the cluster could not fully search is not "not detected": try again at the next interval
    if (result.total === 0 && result.returned === 0 && result.incomplete) {
      throw new ConnectorError(`${this.name} could not search all the data: ${result.incomplete}`, true);
    }
    const events = result.hits.slice(0, MAX_EVIDENCE).map((hit) => this.evidenceOf(hit, timestampField));
    const ruleName = result.hits.map((hit) => fieldOf(hit._source, 'kibana.alert.rule.name')).find((name) => typeof name === 'string');
    return {
      eventsFound: Math.max(result.total, result.returned),
      events,
      rawOutput,
      ...(typeof ruleName === 'string' && { ruleMatched: ruleName }),
    };
  }

  /** An event's or alert's id and time; alerts of Elastic Security also link to the alert in Kibana. */
  private evidenceOf(hit: ElasticHit, timestampField: string): MatchedEvent {
    const source = hit._source;
    const alertUuid = fieldOf(source, 'kibana.alert.uuid');
    const id = typeof hit._id === 'string' ? hit._id : typeof alertUuid === 'string' ? alertUuid : undefined;
    const eventTime =
      parseElasticTime(fieldOf(source, timestampField)) ??
      parseElasticTime(fieldOf(source, '@timestamp')) ??
      parseElasticTime(fieldOf(source, 'kibana.alert.original_time'));
    const isAlert = typeof alertUuid === 'string' || /(^|\.)alerts-security\.alerts-/.test(hit._index ?? '');
    const link = isAlert && id !== undefined && this.settings.kibanaUrl ? this.alertLink(id, source, eventTime) : undefined;
    return { ...(id !== undefined && { id }), ...(link !== undefined && { link }), ...(eventTime && { eventTime }) };
  }

  /** Elastic Security's alert redirect, the link Kibana itself puts in `kibana.alert.url`. */
  private alertLink(id: string, source: unknown, time: Date | undefined): string {
    const spaceId = fieldOf(source, 'kibana.space_ids');
    const space = typeof spaceId === 'string' && spaceId !== '' ? spaceId : 'default';
    const spacePath = space === 'default' ? '' : `/s/${encodeURIComponent(space)}`;
    const query = new URLSearchParams({ index: `.alerts-security.alerts-${space}`, ...(time && { timestamp: time.toISOString() }) });
    return `${this.settings.kibanaUrl}${spacePath}/app/security/alerts/redirect/${encodeURIComponent(id)}?${query}`;
  }

  /**
   * The `dsl` content: a Query DSL object such as `{"match_phrase":{"process.command_line":{{command}}}}` (a whole
   * request body `{"query":{…}}` is accepted too). Placeholders were inserted as JSON strings, so the rendered text
   * parses back to the values as given.
   */
  private dslQueryOf(content: string): Record<string, unknown> {
    let query: unknown;
    try {
      query = JSON.parse(content);
    } catch (error) {
      throw new ConnectorError(`${this.name}: the dsl query is not JSON (${(error as Error).message})`, false);
    }
    if (typeof query !== 'object' || query === null || Array.isArray(query)) {
      throw new ConnectorError(`${this.name}: the dsl query must be a JSON object (a Query DSL clause)`, false);
    }
    const keys = Object.keys(query);
    const wrapped = (query as Record<string, unknown>)['query'];
    return keys.length === 1 && typeof wrapped === 'object' && wrapped !== null ? (wrapped as Record<string, unknown>) : (query as Record<string, unknown>);
  }

  private textSetting(config: Record<string, unknown>, key: 'index' | 'timestamp_field'): string | undefined {
    const value = config[key];
    if (value === undefined || value === null || value === '') return undefined;
    if (key === 'index' && Array.isArray(value) && value.every((name) => typeof name === 'string')) return value.join(',');
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    throw new ConnectorError(`${this.name}: detection_config.${key} must be a string`, false);
  }
}

/**
 * The task's query language: `detection_config.query_language`, else `query.type` when it names one (`eql`, or a
 * suffix such as `elasticsearch_eql`), else `lucene`. The dispatcher writes `elasticsearch_search` as the type, so
 * detection entries choose the language with `query_language`.
 */
export function queryLanguageOf(task: DetectionTaskMessage, product = 'elasticsearch'): ElasticQueryLanguage {
  const configured = (task.detection_config as Record<string, unknown> | undefined)?.['query_language'];
  if (configured !== undefined) {
    const language = typeof configured === 'string' ? configured.trim().toLowerCase() : '';
    if (isQueryLanguage(language)) return language;
    throw new ConnectorError(`${product}: detection_config.query_language must be one of ${ELASTIC_QUERY_LANGUAGES.join(', ')}`, false);
  }
  const fromType = /(?:^|_)(lucene|kql|eql|dsl)$/i.exec(task.query?.type ?? '')?.[1]?.toLowerCase();
  return fromType !== undefined && isQueryLanguage(fromType) ? fromType : 'lucene';
}

function isQueryLanguage(value: string): value is ElasticQueryLanguage {
  return (ELASTIC_QUERY_LANGUAGES as readonly string[]).includes(value);
}

/** The window as a Query DSL `range` filter on the timestamp field. */
function windowFilter(request: SearchRequest, timestampField: string): Record<string, unknown> {
  return {
    range: {
      [timestampField]: {
        gte: request.earliest.toISOString(),
        lte: request.latest.toISOString(),
        format: 'strict_date_optional_time',
      },
    },
  };
}

/** `_search`: the task's query and the window as filters (no scoring needed), earliest matches first. */
function querySearchBody(query: Record<string, unknown>, request: SearchRequest, timestampField: string): Record<string, unknown> {
  return {
    size: MAX_EVIDENCE,
    track_total_hits: true,
    // earliest first: the first sighting is what detection latency measures; unmapped_type spares indices without the field
    sort: [{ [timestampField]: { order: 'asc', unmapped_type: 'date' } }],
    query: { bool: { filter: [windowFilter(request, timestampField), query] } },
  };
}

/** `_eql/search`: the query as written, the window as its `filter`. */
function eqlSearchBody(request: SearchRequest, timestampField: string): Record<string, unknown> {
  return {
    query: request.query,
    filter: windowFilter(request, timestampField),
    timestamp_field: timestampField,
    size: MAX_EVIDENCE,
  };
}
