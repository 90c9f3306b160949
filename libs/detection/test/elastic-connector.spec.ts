import { DetectionTaskMessage } from '@purple/contracts';
import { apiConnectorsFromEnv } from '../src/connectors/api-connectors';
import { SearchRequest } from '../src/connectors/connector';
import { ELASTIC_QUERY_SYNTAX, ElasticConnector, queryLanguageOf } from '../src/connectors/elastic/elastic-connector';
import { DEFAULT_ELASTICSEARCH_INDEX, ElasticSettings, loadElasticSettings } from '../src/connectors/elastic/elastic-settings';
import { renderQueryTemplate } from '../src/semantics/query-template';
import {
  connectorFailure,
  elasticAlert,
  elasticError,
  elasticEvent,
  FakeElastic,
  minimalTask,
  ReceivedElasticSearch,
  runOnce,
  SEARCH_WINDOW,
  searchRequest,
} from '../src/testing';

// Elasticsearch's documented example key: base64 of `VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw`
const API_KEY = 'VnVhQ2ZHY0JDZGJrUW0tZTVhT3g6dWkybHAyYXhUTm1zeWFrdzl0dk5udw==';
const RANGE = { range: { '@timestamp': { gte: '2025-01-10T11:55:00.000Z', lte: '2025-01-10T12:05:00.000Z', format: 'strict_date_optional_time' } } };

function task(overrides: { config?: Record<string, unknown>; type?: string; content?: string; timeoutSeconds?: number } = {}): DetectionTaskMessage {
  const { config, type = 'elasticsearch_search', content, timeoutSeconds } = overrides;
  return minimalTask({ connector: 'elasticsearch', queryType: type, content, timeoutSeconds, config });
}

/** a search for an elasticsearch task with this detection_config */
function request(query: string, config?: Record<string, unknown>): SearchRequest {
  return searchRequest(query, { task: task({ config }) });
}

/**
 * Reads the double-quoted literal at `start` as Lucene's query_string and EQL read one (a backslash escapes the next
 * character, an unescaped quote ends it): its text and the index of its closing quote.
 */
function readLiteral(query: string, start: number): { text: string; end: number } {
  expect(query[start]).toBe('"');
  let text = '';
  for (let i = start + 1; i < query.length; i++) {
    if (query[i] === '\\') text += query[++i];
    else if (query[i] === '"') return { text, end: i };
    else text += query[i];
  }
  throw new Error(`unterminated literal in ${query}`);
}

describe('ElasticConnector against a server speaking the search APIs', () => {
  let elastic: FakeElastic;
  let settings: ElasticSettings;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    elastic = await FakeElastic.start({ apiKey: API_KEY });
  });
  beforeEach(() => {
    elastic.searches.length = 0;
    elastic.server.requests.length = 0;
    settings = {
      product: 'elasticsearch',
      url: elastic.url,
      auth: { apiKey: API_KEY },
      verifyTls: true,
      index: DEFAULT_ELASTICSEARCH_INDEX,
      timestampField: '@timestamp',
      kibanaUrl: 'https://kibana.example:5601',
      maxRetryAfterMs: 5000,
    };
  });
  afterAll(() => elastic?.close());

  it('finds alerts: evidence with id, Kibana link and alert time, the rule, and the documented request', async () => {
    elastic.respond = () => ({
      documents: [elasticAlert('a1b2c3', new Date('2025-01-10T12:00:04Z')), elasticAlert('d4e5f6', new Date('2025-01-10T12:00:09Z'))],
    });
    const outcome = await new ElasticConnector(settings).search(request('host.name:"web-01" AND event.code:4688'), signal);

    expect(outcome.eventsFound).toBe(2);
    expect(outcome.events[0]).toEqual({
      id: 'a1b2c3',
      eventTime: new Date('2025-01-10T12:00:04Z'),
      link: 'https://kibana.example:5601/app/security/alerts/redirect/a1b2c3?index=.alerts-security.alerts-default&timestamp=2025-01-10T12%3A00%3A04.000Z',
    });
    expect(outcome.ruleMatched).toBe('Suspicious Process');
    expect(JSON.parse(outcome.rawOutput).hits.total).toEqual({ value: 2, relation: 'eq' });

    const [sent] = elastic.server.requests;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/.alerts-security.alerts-*,logs-*/_search');
    expect(sent.headers['authorization']).toBe(`ApiKey ${API_KEY}`);
    expect(sent.headers['content-type']).toBe('application/json');
    expect(JSON.parse(sent.body)).toEqual({
      size: 20,
      track_total_hits: true,
      sort: [{ '@timestamp': { order: 'asc', unmapped_type: 'date' } }],
      query: { bool: { filter: [RANGE, { query_string: { query: 'host.name:"web-01" AND event.code:4688' } }] } },
    });
  });

  it('links alerts of another Kibana space under /s/<space>, not plain events; reads the task’s index and timestamp field', async () => {
    elastic.respond = () => ({
      documents: [
        elasticAlert('al-1', new Date('2025-01-10T12:01:00Z'), {}, 'purple'),
        elasticEvent('ev-1', new Date('2025-01-10T12:00:00Z'), { event: { created: '2025-01-10T12:00:02.500Z' } }),
      ],
    });
    const outcome = await new ElasticConnector(settings).search(
      request('process.name:whoami.exe', { index: 'logs-endpoint.events.*, .alerts-security.alerts-purple', timestamp_field: 'event.created' }),
      signal,
    );

    expect(outcome.events).toEqual([
      // the alert has no event.created: its @timestamp is the time
      {
        id: 'al-1',
        eventTime: new Date('2025-01-10T12:01:00Z'),
        link: 'https://kibana.example:5601/s/purple/app/security/alerts/redirect/al-1?index=.alerts-security.alerts-purple&timestamp=2025-01-10T12%3A01%3A00.000Z',
      },
      { id: 'ev-1', eventTime: new Date('2025-01-10T12:00:02.500Z') },
    ]);
    expect(elastic.searches[0].index).toBe('logs-endpoint.events.*,.alerts-security.alerts-purple');
    expect(elastic.searches[0].body['query'].bool.filter[0]).toEqual({ range: { 'event.created': RANGE.range['@timestamp'] } });
    expect(elastic.searches[0].body['sort']).toEqual([{ 'event.created': { order: 'asc', unmapped_type: 'date' } }]);
  });

  it('counts every match (hits.total) but keeps the first 20 as evidence', async () => {
    const documents = Array.from({ length: 25 }, (_, i) => elasticEvent(`ev-${i}`, new Date(SEARCH_WINDOW.earliest.getTime() + i * 1000)));
    elastic.respond = () => ({ documents, total: 1337 });
    const outcome = await new ElasticConnector({ ...settings, kibanaUrl: undefined }).search(request('event.code:4688'), signal);
    expect(outcome.eventsFound).toBe(1337);
    expect(outcome.events).toHaveLength(20);
    expect(outcome.events[19]).toEqual({ id: 'ev-19', eventTime: new Date(SEARCH_WINDOW.earliest.getTime() + 19_000) });
  });

  it('reports a miss as no events', async () => {
    elastic.respond = () => ({ documents: [] });
    const outcome = await new ElasticConnector(settings).search(request('host.name:"nowhere"'), signal);
    expect(outcome).toMatchObject({ eventsFound: 0, events: [] });
    expect(outcome.ruleMatched).toBeUndefined();
    expect(elastic.searches).toHaveLength(1);
  });

  it('serves OpenSearch too: basic auth, hits.total as a plain number, errors named opensearch', async () => {
    const opensearch = await FakeElastic.start({ username: 'svc', password: 'pw-9' }, { totalAsInt: true });
    try {
      opensearch.respond = () => ({ documents: [elasticEvent('os-1', new Date('2025-01-10T12:00:00Z'))], total: 3 });
      const connector = new ElasticConnector({ ...settings, product: 'opensearch', url: opensearch.url, auth: { username: 'svc', password: 'pw-9' }, index: 'logs-*', kibanaUrl: undefined });
      expect(connector.name).toBe('opensearch');
      const outcome = await connector.search(request('event.code:4688'), signal);
      expect(outcome).toMatchObject({ eventsFound: 3, events: [{ id: 'os-1', eventTime: new Date('2025-01-10T12:00:00Z') }] });
      expect(opensearch.searches[0].authorization).toBe(`Basic ${Buffer.from('svc:pw-9').toString('base64')}`);
      expect(opensearch.server.requests[0].path).toBe('/logs-*/_search');

      const eql = await connectorFailure(connector.search(request('process where true', { query_language: 'eql' }), signal));
      expect(eql).toMatchObject({ retryable: false, message: 'opensearch has no EQL API: use lucene or dsl' });
    } finally {
      await opensearch.close();
    }
  });

  it('refuses on 401 with one clear, final error that holds no credential', async () => {
    const wrongKey = Buffer.from('VuaCfGcBCdbkQm-e5aOx:wrong-secret-77').toString('base64');
    const error = await connectorFailure(new ElasticConnector({ ...settings, auth: { apiKey: wrongKey } }).search(request('x'), signal));
    expect(error.message).toBe('elasticsearch refused the credentials (HTTP 401)');
    expect(error.retryable).toBe(false);
    expect(elastic.server.requests).toHaveLength(1);
    expect(elastic.searches).toHaveLength(0);
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain('wrong-secret-77');
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(wrongKey);

    const basic = await connectorFailure(new ElasticConnector({ ...settings, auth: { username: 'elastic', password: 'hunter2-pw' } }).search(request('x'), signal));
    expect(basic).toMatchObject({ retryable: false, message: 'elasticsearch refused the credentials (HTTP 401)' });
    expect(basic.message).not.toContain('hunter2-pw');
  });

  it('honours Retry-After on 429 and then answers', async () => {
    let calls = 0;
    elastic.respond = () =>
      ++calls === 1
        ? { status: 429, headers: { 'retry-after': '1' }, body: elasticError(429, 'es_rejected_execution_exception', 'rejected execution of search') }
        : { documents: [elasticEvent('ev-1', new Date('2025-01-10T12:00:00Z'))] };
    const outcome = await new ElasticConnector(settings).search(request('x'), signal);
    expect(outcome.eventsFound).toBe(1);
    expect(elastic.searches).toHaveLength(2);
    expect(elastic.searches[1].receivedAt - elastic.searches[0].receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('does not wait for a Retry-After longer than its bound: a retryable error that carries the wait', async () => {
    elastic.respond = () => ({ status: 429, headers: { 'retry-after': '120' }, body: elasticError(429, 'circuit_breaking_exception', 'data too large') });
    const error = await connectorFailure(new ElasticConnector(settings).search(request('x'), signal));
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 120_000, message: 'elasticsearch is rate limiting (HTTP 429) and asked to wait 120 s' });
    expect(elastic.searches).toHaveLength(1);
  });

  it('reports a query the product refuses as final, with its error type and reason', async () => {
    elastic.respond = () => ({
      status: 400,
      body: {
        error: {
          root_cause: [{ type: 'query_shard_exception', reason: "Failed to parse query [host.name:(web-01]" }],
          type: 'search_phase_execution_exception',
          reason: 'all shards failed',
          phase: 'query',
        },
        status: 400,
      },
    });
    const refused = await connectorFailure(new ElasticConnector(settings).search(request('host.name:(web-01'), signal));
    expect(refused).toMatchObject({
      retryable: false,
      message: 'elasticsearch refused the request (HTTP 400): search_phase_execution_exception: all shards failed; query_shard_exception: Failed to parse query [host.name:(web-01]',
    });

    elastic.respond = () => ({ status: 404, body: elasticError(404, 'index_not_found_exception', 'no such index [winlogbeat]') });
    expect(await connectorFailure(new ElasticConnector(settings).search(request('x', { index: 'winlogbeat' }), signal))).toMatchObject({
      retryable: false,
      message: 'elasticsearch refused the request (HTTP 404): index_not_found_exception: no such index [winlogbeat]',
    });
  });

  it('reports 5xx, an unreachable server and a partial miss as retryable', async () => {
    elastic.respond = () => ({ status: 503, body: elasticError(503, 'cluster_block_exception', 'blocked by: [SERVICE_UNAVAILABLE/1/state not recovered];') });
    expect(await connectorFailure(new ElasticConnector(settings).search(request('x'), signal))).toMatchObject({
      retryable: true,
      message: 'elasticsearch answered HTTP 503: cluster_block_exception: blocked by: [SERVICE_UNAVAILABLE/1/state not recovered];',
    });

    elastic.respond = () => ({ status: 502, body: '<html>bad gateway</html>' });
    expect(await connectorFailure(new ElasticConnector(settings).search(request('x'), signal))).toMatchObject({ retryable: true, message: 'elasticsearch answered HTTP 502' });

    // a miss while shards failed says nothing about the data those shards hold
    elastic.respond = () => ({
      status: 200,
      body: {
        timed_out: false,
        _shards: { total: 4, successful: 3, failed: 1, failures: [{ shard: 2, index: 'logs-x', reason: { type: 'node_disconnected_exception', reason: 'node left' } }] },
        hits: { total: { value: 0, relation: 'eq' }, hits: [] },
      },
    });
    expect(await connectorFailure(new ElasticConnector(settings).search(request('x'), signal))).toMatchObject({
      retryable: true,
      message: 'elasticsearch could not search all the data: 1 of 4 shards failed (node_disconnected_exception: node left)',
    });

    const gone = await FakeElastic.start({ apiKey: API_KEY });
    const url = gone.url;
    await gone.close();
    const unreachable = await connectorFailure(new ElasticConnector({ ...settings, url }).search(request('x'), signal));
    expect(unreachable.retryable).toBe(true);
    expect(unreachable.message).toMatch(/^cannot reach elasticsearch at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('reports a malformed answer (not JSON, no hits) as an error', async () => {
    elastic.respond = () => ({ status: 200, body: '<html>proxy login</html>' });
    expect(await connectorFailure(new ElasticConnector(settings).search(request('x'), signal))).toMatchObject({
      retryable: false,
      message: 'elasticsearch returned a malformed response: the body is not JSON',
    });

    elastic.respond = () => ({ status: 200, body: { took: 1, timed_out: false } });
    expect(await connectorFailure(new ElasticConnector(settings).search(request('x'), signal))).toMatchObject({
      retryable: false,
      message: 'elasticsearch returned a malformed response: no hits.hits in the search response',
    });

    elastic.respond = () => ({ status: 200, body: { hits: { total: 'many', hits: [] } } });
    expect((await connectorFailure(new ElasticConnector(settings).search(request('x'), signal))).message).toBe(
      'elasticsearch returned a malformed response: hits.total is neither a number nor {value}',
    );
  });

  it('times out a search that hangs, after the task’s timeout, through the detection semantics', async () => {
    elastic.respond = () => ({ hang: true });
    const outcome = await runOnce(new ElasticConnector(settings), task({ timeoutSeconds: 1 }));
    expect(outcome).toMatchObject({ status: 'error', error: 'elasticsearch search timed out after 1 s (1 failures in a row)' });
    expect(elastic.searches).toHaveLength(1);
  });

  it('runs EQL through the EQL search API with the window as its filter', async () => {
    elastic.respond = () => ({ documents: [elasticEvent('eq-1', new Date('2025-01-10T12:00:03Z'), { process: { name: 'whoami.exe' } })] });
    const eql = 'process where host.name == "web-01" and process.name == "whoami.exe"';
    const outcome = await new ElasticConnector(settings).search(request(eql, { query_language: 'eql', index: 'logs-endpoint.events.process-*' }), signal);

    expect(outcome).toMatchObject({ eventsFound: 1, events: [{ id: 'eq-1', eventTime: new Date('2025-01-10T12:00:03Z') }] });
    const [sent] = elastic.server.requests;
    expect(sent.method).toBe('POST');
    expect(sent.path).toBe('/logs-endpoint.events.process-*/_eql/search');
    expect(sent.headers['authorization']).toBe(`ApiKey ${API_KEY}`);
    expect(JSON.parse(sent.body)).toEqual({ query: eql, filter: RANGE, timestamp_field: '@timestamp', size: 20 });
  });

  it('reads EQL sequences: the total counts sequences, every event of them is evidence', async () => {
    const first = elasticEvent('s1-a', new Date('2025-01-10T12:00:01Z'));
    const second = elasticEvent('s1-b', new Date('2025-01-10T12:00:02Z'));
    elastic.respond = () => ({
      status: 200,
      body: { is_partial: false, is_running: false, timed_out: false, hits: { total: { value: 1, relation: 'eq' }, sequences: [{ join_keys: ['web-01'], events: [first, second] }] } },
    });
    // query.type names the language when detection_config does not
    const eqlTask = { ...request('sequence by host.name [process where true] [network where true]'), task: task({ type: 'eql' }) };
    const sequence = await new ElasticConnector(settings).search(eqlTask, signal);
    expect(sequence).toMatchObject({ eventsFound: 1, events: [{ id: 's1-a' }, { id: 's1-b' }] });
    expect(elastic.server.requests[0].path).toBe('/.alerts-security.alerts-*,logs-*/_eql/search');
  });

  it('runs a Query DSL object as the query, beside the window', async () => {
    elastic.respond = () => ({ documents: [] });
    const dsl = { bool: { must: [{ term: { 'host.name': 'web-01' } }, { match_phrase: { 'process.command_line': 'whoami /all' } }] } };
    await new ElasticConnector(settings).search(request(JSON.stringify(dsl), { query_language: 'dsl' }), signal);
    // a whole body ({"query": …}) is read as its query
    await new ElasticConnector(settings).search(request(JSON.stringify({ query: dsl }), { query_language: 'DSL' }), signal);

    for (const search of elastic.searches) {
      expect(search.api).toBe('_search');
      expect(search.body['query']).toEqual({ bool: { filter: [RANGE, dsl] } });
    }
    expect(elastic.searches).toHaveLength(2);

    const broken = await connectorFailure(new ElasticConnector(settings).search(request('{"term": {', { query_language: 'dsl' }), signal));
    expect(broken.retryable).toBe(false);
    expect(broken.message).toMatch(/^elasticsearch: the dsl query is not JSON/);
    expect(await connectorFailure(new ElasticConnector(settings).search(request('["term"]', { query_language: 'dsl' }), signal))).toMatchObject({
      retryable: false,
      message: 'elasticsearch: the dsl query must be a JSON object (a Query DSL clause)',
    });
    expect(elastic.searches).toHaveLength(2);
  });

  it('refuses an unknown query language or an index that is not a list of names, without asking the product', async () => {
    expect(await connectorFailure(new ElasticConnector(settings).search(request('x', { query_language: 'sql' }), signal))).toMatchObject({
      retryable: false,
      message: 'elasticsearch: detection_config.query_language must be one of lucene, kql, eql, dsl',
    });
    for (const index of ['../_security/user', 'logs-*,..', 'logs *', 42]) {
      expect(await connectorFailure(new ElasticConnector(settings).search(request('x', { index }), signal))).toMatchObject({ retryable: false });
    }
    expect(elastic.server.requests).toHaveLength(0);
  });

  it('chooses the language from detection_config.query_language, else query.type, else Lucene', () => {
    expect(queryLanguageOf(task())).toBe('lucene');
    expect(queryLanguageOf(task({ type: 'kql' }))).toBe('kql');
    expect(queryLanguageOf(task({ type: 'elasticsearch_eql' }))).toBe('eql');
    expect(queryLanguageOf(task({ type: 'eql', config: { query_language: 'dsl' } }))).toBe('dsl');
  });
});

describe('placeholder values stay inside their literal', () => {
  let elastic: FakeElastic;
  const settingsOf = (url: string): ElasticSettings => ({
    product: 'elasticsearch',
    url,
    auth: { apiKey: API_KEY },
    verifyTls: true,
    index: 'logs-*',
    timestampField: '@timestamp',
    maxRetryAfterMs: 1000,
  });
  // closes the literal, adds operators and a newline, and ends in a backslash that would escape a closing quote
  const HOSTILE = 'web-01" OR *:* OR host.name:"x\n} ] | \\';
  const HOSTILE_AS_SENT = 'web-01" OR *:* OR host.name:"x } ] | \\';

  beforeAll(async () => {
    elastic = await FakeElastic.start({ apiKey: API_KEY });
  });
  beforeEach(() => {
    elastic.searches.length = 0;
    elastic.respond = () => ({ documents: [] });
  });
  afterAll(() => elastic?.close());

  async function run(content: string, config: Record<string, unknown>): Promise<ReceivedElasticSearch['body']> {
    const outcome = await runOnce(
      new ElasticConnector(settingsOf(elastic.url)),
      task({ content, config: { ...config, placeholders: { host: HOSTILE, command: HOSTILE } } }),
    );
    expect(outcome).toMatchObject({ status: 'not_detected', searches: 1 });
    expect(elastic.searches).toHaveLength(1);
    return elastic.searches[0].body;
  }

  it('Lucene: a whole phrase outside quotes, escaped inside them; the query around it unchanged', async () => {
    const body = await run('host.name:{{host}} AND process.command_line:"*{{command}}*" AND event.code:4688', {});
    const query: string = body['query'].bool.filter[1].query_string.query;
    expect(query.startsWith('host.name:')).toBe(true);
    const host = readLiteral(query, 'host.name:'.length);
    expect(host.text).toBe(HOSTILE_AS_SENT);
    const rest = query.slice(host.end + 1);
    expect(rest.startsWith(' AND process.command_line:')).toBe(true);
    const command = readLiteral(rest, ' AND process.command_line:'.length);
    expect(command.text).toBe(`*${HOSTILE_AS_SENT}*`);
    expect(rest.slice(command.end + 1)).toBe(' AND event.code:4688');
  });

  it('EQL: the value is one string, the condition after it still applies', async () => {
    // `==` compares as it is (after `:` a value holding `*` is refused: see query-injection.spec.ts)
    const body = await run('process where host.name == {{host}} and process.command_line == "*{{command}}*" and event.type == "start"', {
      query_language: 'eql',
    });
    const query: string = body['query'];
    const prefix = 'process where host.name == ';
    const host = readLiteral(query, prefix.length);
    expect(host.text).toBe(HOSTILE_AS_SENT);
    const rest = query.slice(host.end + 1);
    const command = readLiteral(rest, ' and process.command_line == '.length);
    expect(command.text).toBe(`*${HOSTILE_AS_SENT}*`);
    expect(rest.slice(command.end + 1)).toBe(' and event.type == "start"');
  });

  it('DSL: the value is one JSON string, in or out of quotes, and the query keeps its shape', async () => {
    const body = await run(
      '{"bool": {"must": [{"term": {"host.name": {{host}}}}, {"wildcard": {"process.command_line": {"value": "*{{command}}*"}}}]}}',
      { query_language: 'dsl' },
    );
    expect(body['query']).toEqual({
      bool: {
        filter: [
          { range: { '@timestamp': expect.objectContaining({ format: 'strict_date_optional_time' }) } },
          // in the wildcard query the value's `*` and `\` are escaped: it matches only itself
          {
            bool: {
              must: [
                { term: { 'host.name': HOSTILE_AS_SENT } },
                { wildcard: { 'process.command_line': { value: `*${HOSTILE_AS_SENT.replace(/[\\*?]/g, '\\$&')}*` } } },
              ],
            },
          },
        ],
      },
    });
  });

  it('writes times as ISO 8601 and escapes every string literal the same way', () => {
    expect(ELASTIC_QUERY_SYNTAX.formatTime(new Date(Date.UTC(2025, 0, 10, 12)))).toBe('2025-01-10T12:00:00.000Z');
    expect(renderQueryTemplate('a:{{v}}', { v: 'x"\\\t' }, ELASTIC_QUERY_SYNTAX)).toBe('a:"x\\"\\\\ "');
  });
});

describe('loadElasticSettings', () => {
  it('is undefined (connector not registered) without ELASTICSEARCH_URL', () => {
    expect(loadElasticSettings({})).toBeUndefined();
    expect(loadElasticSettings({ ELASTICSEARCH_API_KEY: 'k' }, 'elasticsearch')).toBeUndefined();
    expect(loadElasticSettings({ ELASTICSEARCH_URL: 'https://es:9200', ELASTICSEARCH_API_KEY: 'k' }, 'opensearch')).toBeUndefined();
  });

  it('reads an API key or basic credentials, with documented defaults', () => {
    expect(loadElasticSettings({ ELASTICSEARCH_URL: 'https://es:9200/', ELASTICSEARCH_API_KEY: API_KEY })).toEqual({
      product: 'elasticsearch',
      url: 'https://es:9200',
      auth: { apiKey: API_KEY },
      verifyTls: true,
      index: '.alerts-security.alerts-*,logs-*',
      timestampField: '@timestamp',
      maxRetryAfterMs: 30_000,
    });
    // the id:key pair is encoded as the header needs it
    expect(loadElasticSettings({ ELASTICSEARCH_URL: 'https://es:9200', ELASTICSEARCH_API_KEY: 'VuaCfGcBCdbkQm-e5aOx:ui2lp2axTNmsyakw9tvNnw' })?.auth).toEqual({
      apiKey: API_KEY,
    });
    expect(
      loadElasticSettings({
        ELASTICSEARCH_URL: 'https://es:9200',
        ELASTICSEARCH_USERNAME: 'u',
        ELASTICSEARCH_PASSWORD: 'p',
        ELASTICSEARCH_VERIFY_TLS: 'false',
        ELASTICSEARCH_INDEX: 'winlogbeat-*,.alerts-security.alerts-default',
        ELASTICSEARCH_TIMESTAMP_FIELD: 'event.created',
        ELASTICSEARCH_KIBANA_URL: 'https://kibana:5601/',
        ELASTICSEARCH_MAX_RETRY_AFTER_SECONDS: '5',
      }),
    ).toEqual({
      product: 'elasticsearch',
      url: 'https://es:9200',
      auth: { username: 'u', password: 'p' },
      verifyTls: false,
      index: 'winlogbeat-*,.alerts-security.alerts-default',
      timestampField: 'event.created',
      kibanaUrl: 'https://kibana:5601',
      maxRetryAfterMs: 5000,
    });
  });

  it('reads OpenSearch from OPENSEARCH_* with its own default index', () => {
    expect(loadElasticSettings({ OPENSEARCH_URL: 'https://os:9200', OPENSEARCH_USERNAME: 'admin', OPENSEARCH_PASSWORD: 'pw' }, 'opensearch')).toEqual({
      product: 'opensearch',
      url: 'https://os:9200',
      auth: { username: 'admin', password: 'pw' },
      verifyTls: true,
      index: 'logs-*',
      timestampField: '@timestamp',
      maxRetryAfterMs: 30_000,
    });
  });

  it('names what is missing or malformed, never a value', () => {
    expect(() => loadElasticSettings({ ELASTICSEARCH_URL: 'https://es:9200', ELASTICSEARCH_USERNAME: 'only-user' })).toThrow(
      'ELASTICSEARCH_API_KEY (or ELASTICSEARCH_USERNAME and ELASTICSEARCH_PASSWORD) is missing: ELASTICSEARCH_URL is set',
    );
    expect(() => loadElasticSettings({ OPENSEARCH_URL: 'https://os:9200' }, 'opensearch')).toThrow(
      'OPENSEARCH_API_KEY (or OPENSEARCH_USERNAME and OPENSEARCH_PASSWORD) is missing: OPENSEARCH_URL is set',
    );
    const malformed = (env: NodeJS.ProcessEnv) => {
      try {
        loadElasticSettings(env);
      } catch (error) {
        return (error as Error).message;
      }
      throw new Error('expected a ConfigError');
    };
    const urlError = malformed({ ELASTICSEARCH_URL: 'es:9200', ELASTICSEARCH_API_KEY: 'secret-key-x' });
    expect(urlError).toMatch(/^Invalid configuration: ELASTICSEARCH_URL is malformed/);
    expect(urlError).not.toContain('secret-key-x');
    expect(malformed({ ELASTICSEARCH_URL: 'https://elastic:changeme@es:9200', ELASTICSEARCH_API_KEY: 'k' })).toContain(
      'ELASTICSEARCH_URL must not contain credentials',
    );
    expect(malformed({ ELASTICSEARCH_URL: 'https://es:9200', ELASTICSEARCH_API_KEY: 'k', ELASTICSEARCH_INDEX: 'logs-*,../x' })).toMatch(
      /ELASTICSEARCH_INDEX is malformed/,
    );
    expect(malformed({ ELASTICSEARCH_URL: 'https://es:9200', ELASTICSEARCH_API_KEY: 'k', ELASTICSEARCH_VERIFY_TLS: 'no' })).toMatch(
      /ELASTICSEARCH_VERIFY_TLS is malformed/,
    );
    expect(malformed({ ELASTICSEARCH_URL: 'https://es:9200', ELASTICSEARCH_API_KEY: 'k', ELASTICSEARCH_MAX_RETRY_AFTER_SECONDS: 'soon' })).toMatch(
      /ELASTICSEARCH_MAX_RETRY_AFTER_SECONDS is malformed/,
    );
  });

  it('registers elasticsearch and opensearch in the api-worker when configured', () => {
    const names = apiConnectorsFromEnv({
      ELASTICSEARCH_URL: 'https://es:9200',
      ELASTICSEARCH_API_KEY: API_KEY,
      OPENSEARCH_URL: 'https://os:9200',
      OPENSEARCH_USERNAME: 'admin',
      OPENSEARCH_PASSWORD: 'pw',
    }).map((connector) => connector.name);
    expect(names).toEqual(expect.arrayContaining(['elasticsearch', 'opensearch']));
    expect(apiConnectorsFromEnv({}).map((connector) => connector.name)).not.toContain('elasticsearch');
  });
});
