import { ConnectorError } from '../connector';
import { HttpAnswer } from '../http-client';

/** One document of an answer: a `_search` hit or an EQL event. */
export interface ElasticHit {
  _index?: string;
  _id?: string;
  _source?: Record<string, unknown>;
}

/** What a search found, read from either API's answer. */
export interface ElasticResult {
  /** matching documents (or EQL sequences) in all, not only those returned */
  total: number;
  /** matches in this answer (hits, EQL events or sequences); never more than `total` on a sound answer */
  returned: number;
  /** the documents, as evidence (every event of EQL sequences) */
  hits: ElasticHit[];
  /** why the answer may be incomplete (shards that failed, a search that timed out), when it is */
  incomplete?: string;
}

/**
 * `POST /<index>/_search`: `{"timed_out":false,"_shards":{"total":2,"failed":0,…},"hits":{"total":{"value":3,
 * "relation":"eq"},"hits":[{"_index":…,"_id":…,"_source":{…}}]}}`. `hits.total` is a plain number on OpenSearch
 * with `rest_total_hits_as_int` and on Elasticsearch before 7.
 */
export function parseSearchResponse(product: string, body: Record<string, unknown>): ElasticResult {
  const hits = body['hits'];
  if (!isObject(hits) || !Array.isArray(hits['hits'])) {
    throw new ConnectorError(`${product} returned a malformed response: no hits.hits in the search response`, false);
  }
  const documents = hits['hits'].filter(isObject) as ElasticHit[];
  const shards = isObject(body['_shards']) ? body['_shards'] : {};
  const failedShards = typeof shards['failed'] === 'number' ? shards['failed'] : 0;
  const incomplete =
    failedShards > 0
      ? `${failedShards} of ${String(shards['total'] ?? '?')} shards failed${firstShardFailure(shards)}`
      : body['timed_out'] === true
        ? 'the search timed out on the cluster'
        : undefined;
  return { total: totalOf(product, hits['total'], documents.length), returned: documents.length, hits: documents, ...(incomplete && { incomplete }) };
}

/**
 * `POST /<index>/_eql/search`: `{"is_partial":false,"timed_out":false,"hits":{"total":{"value":1,"relation":"eq"},
 * "events":[{"_index":…,"_id":…,"_source":{…}}]}}`, or `"sequences":[{"join_keys":[…],"events":[…]}]` for a
 * sequence query (its total counts sequences; every event of a sequence is evidence).
 */
export function parseEqlResponse(product: string, body: Record<string, unknown>): ElasticResult {
  const hits = body['hits'];
  const events = isObject(hits) ? hits['events'] : undefined;
  const sequences = isObject(hits) ? hits['sequences'] : undefined;
  if (!isObject(hits) || (!Array.isArray(events) && !Array.isArray(sequences))) {
    throw new ConnectorError(`${product} returned a malformed response: no hits.events or hits.sequences in the EQL response`, false);
  }
  const documents = Array.isArray(events)
    ? (events.filter(isObject) as ElasticHit[])
    : (sequences as unknown[]).filter(isObject).flatMap((sequence) => (Array.isArray(sequence['events']) ? sequence['events'].filter(isObject) : []) as ElasticHit[]);
  const matches = Array.isArray(events) ? documents.length : (sequences as unknown[]).length;
  const incomplete =
    body['is_partial'] === true ? 'the EQL search returned partial results' : body['timed_out'] === true ? 'the EQL search timed out on the cluster' : undefined;
  return { total: totalOf(product, hits['total'], matches), returned: matches, hits: documents, ...(incomplete && { incomplete }) };
}

/**
 * The product's own explanation of a failed request: `{"error":{"root_cause":[…],"type":"parsing_exception",
 * "reason":"…"},"status":400}` (the root cause says more when the top level is a generic "all shards failed"), or
 * `{"error":"no handler found for uri …"}` from older versions and OpenSearch.
 */
export function elasticErrorText(answer: HttpAnswer): string | undefined {
  let body: unknown;
  try {
    body = JSON.parse(answer.body);
  } catch {
    return undefined;
  }
  if (!isObject(body)) return undefined;
  const error = body['error'];
  if (typeof error === 'string') return error;
  if (!isObject(error)) return undefined;
  const top = describeCause(error);
  const rootCauses = Array.isArray(error['root_cause']) ? error['root_cause'].filter(isObject) : [];
  const root = rootCauses.length > 0 ? describeCause(rootCauses[0]) : undefined;
  const deeper = isObject(error['caused_by']) ? describeCause(error['caused_by']) : undefined;
  const details = [root, deeper].filter((cause): cause is string => cause !== undefined && cause !== top);
  return [top, ...new Set(details)].filter(Boolean).join('; ') || undefined;
}

/**
 * A field of a document's `_source` by its dotted name, whether the source nests it (`{"kibana":{"alert":{…}}}`) or
 * keeps the dotted key (`{"kibana.alert.uuid":…}`, as Elastic Security's alerts do). Arrays give their first value.
 */
export function fieldOf(source: unknown, path: string): unknown {
  if (Array.isArray(source)) return fieldOf(source[0], path);
  if (!isObject(source)) return undefined;
  if (path in source) return Array.isArray(source[path]) ? source[path][0] : source[path];
  for (let dot = path.indexOf('.'); dot !== -1; dot = path.indexOf('.', dot + 1)) {
    const head = path.slice(0, dot);
    if (head in source) {
      const found = fieldOf(source[head], path.slice(dot + 1));
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** A date field's value: ISO 8601 (`strict_date_optional_time`) or epoch milliseconds, ES's default date formats. */
export function parseElasticTime(value: unknown): Date | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? new Date(value) : undefined;
  if (typeof value !== 'string' || value.trim() === '') return undefined;
  const text = value.trim();
  const time = /^\d+$/.test(text) ? Number(text) : Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}

function totalOf(product: string, total: unknown, fallback: number): number {
  if (typeof total === 'number') return total;
  if (isObject(total) && typeof total['value'] === 'number') return total['value'];
  if (total === undefined) return fallback;
  throw new ConnectorError(`${product} returned a malformed response: hits.total is neither a number nor {value}`, false);
}

function firstShardFailure(shards: Record<string, unknown>): string {
  const failures = Array.isArray(shards['failures']) ? shards['failures'].filter(isObject) : [];
  const reason = failures.length > 0 && isObject(failures[0]['reason']) ? describeCause(failures[0]['reason']) : undefined;
  return reason ? ` (${reason})` : '';
}

function describeCause(cause: Record<string, unknown>): string | undefined {
  const type = typeof cause['type'] === 'string' ? cause['type'] : undefined;
  const reason = typeof cause['reason'] === 'string' ? cause['reason'] : undefined;
  if (type && reason) return `${type}: ${reason}`;
  return reason ?? type;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
