import { FakeHttpServer, FakeReply, RecordedRequest } from './fake-http-server';
import { basicAuthorization, FakeProduct } from './fake-product';

/** A search as the fake Elasticsearch received it. */
export interface ReceivedElasticSearch {
  api: '_search' | '_eql/search';
  /** the index path segment, decoded (`.alerts-security.alerts-*,logs-*`) */
  index: string;
  /** the JSON body (loosely typed: tests read deep into it) */
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  body: Record<string, any>;
  authorization: string | undefined;
  receivedAt: number;
}

/** A document the fake returns: `_index`, `_id` and `_source`. */
export interface FakeElasticDocument {
  _index: string;
  _id: string;
  _source: Record<string, unknown>;
}

/** What the fake answers one search with. */
export type FakeElasticReply =
  /** 200 with these documents (cut to the request's `size`); `total` defaults to their number */
  | { documents: FakeElasticDocument[]; total?: number }
  /** anything else, verbatim (objects as JSON), or a hang */
  | FakeReply;

/**
 * A local server speaking Elasticsearch's search APIs as documented: `POST|GET /<index>/_search` answers
 * `{"took","timed_out","_shards","hits":{"total":{"value","relation"},"hits":[…]}}`, `/<index>/_eql/search`
 * answers `{"is_partial","is_running","timed_out","hits":{"total","events":[…]}}`. Requests must carry the expected
 * `Authorization` (ApiKey or Basic; else 401 with a `security_exception`), a JSON body (else 400 `parse_exception`)
 * and, for EQL, a `query`. `totalAsInt` answers `hits.total` as a plain number, as OpenSearch with
 * `rest_total_hits_as_int` and Elasticsearch 6 do. Tests set `respond`; `searches` records what came in.
 */
export class FakeElastic extends FakeProduct {
  readonly searches: ReceivedElasticSearch[] = [];
  respond: (search: ReceivedElasticSearch) => FakeElasticReply | Promise<FakeElasticReply> = () => ({ documents: [] });

  private constructor(
    server: FakeHttpServer,
    private readonly expectedAuthorization: string,
    private readonly totalAsInt: boolean,
  ) {
    super(server);
  }

  static async start(
    credentials: { apiKey: string } | { username: string; password: string },
    options: { totalAsInt?: boolean } = {},
  ): Promise<FakeElastic> {
    const expected = 'apiKey' in credentials ? `ApiKey ${credentials.apiKey}` : basicAuthorization(credentials.username, credentials.password);
    return new FakeElastic(await FakeHttpServer.start(), expected, options.totalAsInt ?? false);
  }

  protected async handle(request: RecordedRequest): Promise<FakeReply> {
    const route = /^\/([^/]+)\/(_search|_eql\/search)$/.exec(request.path);
    if (!route || (request.method !== 'POST' && request.method !== 'GET')) {
      return { status: 400, body: { error: `no handler found for uri [${request.path}] and method [${request.method}]` } };
    }
    if (request.headers.authorization !== this.expectedAuthorization) {
      return {
        status: 401,
        headers: { 'www-authenticate': 'ApiKey, Basic realm="security" charset="UTF-8"' },
        body: elasticError(401, 'security_exception', `unable to authenticate with provided credentials and anonymous access is not allowed for this request`),
      };
    }
    let body: unknown;
    try {
      body = JSON.parse(request.body);
    } catch {
      return { status: 400, body: elasticError(400, 'parse_exception', 'request body is required') };
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      return { status: 400, body: elasticError(400, 'parse_exception', 'request body must be a JSON object') };
    }
    const api = route[2] as ReceivedElasticSearch['api'];
    const search: ReceivedElasticSearch = {
      api,
      index: decodeURIComponent(route[1]),
      body: body as ReceivedElasticSearch['body'],
      authorization: request.headers.authorization,
      receivedAt: request.receivedAt,
    };
    if (api === '_eql/search' && (typeof search.body['query'] !== 'string' || search.body['query'].trim() === '')) {
      return { status: 400, body: elasticError(400, 'action_request_validation_exception', 'Validation Failed: 1: query is null or empty;') };
    }
    this.searches.push(search);
    const reply = await this.respond(search);
    if (!('documents' in reply)) return reply;
    const size = typeof search.body['size'] === 'number' ? search.body['size'] : 10;
    const returned = reply.documents.slice(0, size);
    const total = this.totalAsInt ? (reply.total ?? reply.documents.length) : { value: reply.total ?? reply.documents.length, relation: 'eq' };
    if (api === '_eql/search') {
      return { status: 200, body: { is_partial: false, is_running: false, took: 3, timed_out: false, hits: { total, events: returned } } };
    }
    return {
      status: 200,
      body: {
        took: 5,
        timed_out: false,
        _shards: { total: 1, successful: 1, skipped: 0, failed: 0 },
        hits: { total, max_score: null, hits: returned.map((document) => ({ ...document, _score: null })) },
      },
    };
  }
}

/** An alert as Elastic Security's detection engine writes it to `.alerts-security.alerts-<space>` (dotted keys). */
export function elasticAlert(
  id: string,
  time: Date,
  fields: Record<string, unknown> = {},
  space = 'default',
): FakeElasticDocument {
  return {
    _index: `.internal.alerts-security.alerts-${space}-000001`,
    _id: id,
    _source: {
      '@timestamp': time.toISOString(),
      'kibana.alert.uuid': id,
      'kibana.alert.original_time': new Date(time.getTime() - 30_000).toISOString(),
      'kibana.alert.rule.name': 'Suspicious Process',
      'kibana.space_ids': [space],
      ...fields,
    },
  };
}

/** A log event as an Elastic Agent data stream stores it (nested ECS fields). */
export function elasticEvent(id: string, time: Date, source: Record<string, unknown> = {}): FakeElasticDocument {
  return { _index: '.ds-logs-system.security-default-2025.01.10-000001', _id: id, _source: { '@timestamp': time.toISOString(), ...source } };
}

/** Elasticsearch's error body: `{"error":{"root_cause":[…],"type":…,"reason":…},"status":…}`. */
export function elasticError(status: number, type: string, reason: string): Record<string, unknown> {
  return { error: { root_cause: [{ type, reason }], type, reason }, status };
}
