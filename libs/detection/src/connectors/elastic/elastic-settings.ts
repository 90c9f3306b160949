import 'reflect-metadata';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Matches, Max, Min } from 'class-validator';
import { ConfigError, loadConfig } from '@purple/platform';

const HTTP_URL = /^https?:\/\/[^\s/?#]+(\/[^\s?#]*)?$/;

/**
 * Index names and patterns, comma-separated: no whitespace, no characters that would leave the URL's path segment,
 * and not `.` or `..` (which URL resolution would turn into another path).
 */
const INDEX_LIST = /^(?!\.\.?(,|$))(?!.*,\.\.?(,|$))[^\s/\\?#",]+(,[^\s/\\?#",]+)*$/;

/**
 * The products one connector class serves: they share the `_search` API, its Query DSL and its error bodies. Each is
 * configured by its own variables (`ELASTICSEARCH_*`, `OPENSEARCH_*`) and registered under its own name, so a lab can
 * have both.
 */
export const SEARCH_ENGINES = ['elasticsearch', 'opensearch'] as const;
export type SearchEngine = (typeof SEARCH_ENGINES)[number];

/** Alerts of Elastic Security's detection rules, and the logs of Elastic Agent / Beats data streams. */
export const DEFAULT_ELASTICSEARCH_INDEX = '.alerts-security.alerts-*,logs-*';
/** OpenSearch has no Elastic Security alerts index; its logs commonly live in `logs-*`. */
export const DEFAULT_OPENSEARCH_INDEX = 'logs-*';

export interface ElasticSettings {
  /** the connector's name and the product named in its errors */
  product: SearchEngine;
  url: string;
  /** `apiKey` is the base64 `id:key` credential sent as `Authorization: ApiKey` */
  auth: { apiKey: string } | { username: string; password: string };
  verifyTls: boolean;
  /** indices, data streams or patterns, comma-separated, searched when the task does not name its own */
  index: string;
  /** the date field the search window applies to, when the task does not name its own */
  timestampField: string;
  /** Kibana's base URL (Elasticsearch only): alert evidence then links to the alert in Elastic Security */
  kibanaUrl?: string;
  maxRetryAfterMs: number;
}

/**
 * The environment class of one product. Both products take the same variables under their own prefix, so the class is
 * built per prefix (property names are the variable names, so every ConfigError names the variable itself).
 */
function searchEngineEnv(product: SearchEngine): new () => Record<string, unknown> {
  const prefix = product.toUpperCase();
  class SearchEngineEnv {
    [variable: string]: unknown;
    constructor() {
      this[`${prefix}_VERIFY_TLS`] = 'true';
      this[`${prefix}_INDEX`] = product === 'elasticsearch' ? DEFAULT_ELASTICSEARCH_INDEX : DEFAULT_OPENSEARCH_INDEX;
      this[`${prefix}_TIMESTAMP_FIELD`] = '@timestamp';
      this[`${prefix}_MAX_RETRY_AFTER_SECONDS`] = 30;
    }
  }
  const variable = (name: string, ...decorators: PropertyDecorator[]) => {
    for (const decorate of decorators) decorate(SearchEngineEnv.prototype, `${prefix}_${name}`);
  };
  const url = (name: string) =>
    variable(name, IsOptional(), Matches(HTTP_URL, { message: `${prefix}_${name} must be an http(s) URL without a query` }));

  /** the REST API, e.g. https://es.example:9200 (no credentials in it) */
  url('URL');
  /** the `encoded` (base64 `id:key`) API key, or `id:key` itself; or USERNAME and PASSWORD */
  variable('API_KEY', IsOptional(), IsString());
  variable('USERNAME', IsOptional(), IsString());
  variable('PASSWORD', IsOptional(), IsString());
  /** `false` accepts a self-signed certificate (labs only) */
  variable('VERIFY_TLS', IsIn(['true', 'false']));
  variable('INDEX', IsString(), Matches(INDEX_LIST, { message: `${prefix}_INDEX must be a comma-separated list of index names or patterns` }));
  variable('TIMESTAMP_FIELD', IsString(), Matches(/^\S+$/, { message: `${prefix}_TIMESTAMP_FIELD must be a field name` }));
  /** the longest Retry-After (429/503) waited for within one search; longer ones wait for the next interval */
  variable('MAX_RETRY_AFTER_SECONDS', Type(() => Number), IsInt(), Min(0), Max(3600));
  if (product === 'elasticsearch') url('KIBANA_URL');
  return SearchEngineEnv;
}

/** One product's settings, undefined when its URL variable is not set; throws ConfigError naming what is wrong. */
export function loadElasticSettings(env: NodeJS.ProcessEnv, product: SearchEngine = 'elasticsearch'): ElasticSettings | undefined {
  const prefix = product.toUpperCase();
  const config = loadConfig(searchEngineEnv(product), env);
  const text = (name: string) => config[`${prefix}_${name}`] as string | undefined;
  const url = text('URL');
  if (url === undefined) return undefined;
  if (new URL(url).username !== '') {
    throw new ConfigError([`${prefix}_URL must not contain credentials (use ${prefix}_API_KEY or ${prefix}_USERNAME/${prefix}_PASSWORD)`]);
  }
  const apiKey = text('API_KEY');
  const username = text('USERNAME');
  const password = text('PASSWORD');
  let auth: ElasticSettings['auth'];
  if (apiKey) auth = { apiKey: encodedApiKey(apiKey) };
  else if (username && password) auth = { username, password };
  else throw new ConfigError([`${prefix}_API_KEY (or ${prefix}_USERNAME and ${prefix}_PASSWORD) is missing: ${prefix}_URL is set`]);
  const kibanaUrl = text('KIBANA_URL');
  return {
    product,
    url: url.replace(/\/+$/, ''),
    auth,
    verifyTls: text('VERIFY_TLS') === 'true',
    index: text('INDEX') as string,
    timestampField: text('TIMESTAMP_FIELD') as string,
    ...(kibanaUrl !== undefined && { kibanaUrl: kibanaUrl.replace(/\/+$/, '') }),
    maxRetryAfterMs: (config[`${prefix}_MAX_RETRY_AFTER_SECONDS`] as number) * 1000,
  };
}

/** The index list as the path segment of `/<index>/_search`; undefined when it is not a valid list. */
export function indexPathSegment(index: string): string | undefined {
  const trimmed = index
    .split(',')
    .map((name) => name.trim())
    .join(',');
  if (!INDEX_LIST.test(trimmed)) return undefined;
  return trimmed.split(',').map(encodeURIComponent).join(',');
}

/** Elasticsearch hands out API keys as `id` + `api_key` and as `encoded` (base64 of `id:api_key`); accept either. */
function encodedApiKey(value: string): string {
  // base64 has no colon, so a colon means the `id:api_key` pair
  return value.includes(':') ? Buffer.from(value).toString('base64') : value;
}
