import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DetectionTaskMessage } from '@purple/contracts';
import { apiConnectorsFromEnv } from '../src/connectors/api-connectors';
import { SearchRequest } from '../src/connectors/connector';
import { HttpConnector, JSON_QUERY_SYNTAX } from '../src/connectors/http/http-connector';
import { HttpConnectorSettings, loadHttpConnectorSettings } from '../src/connectors/http/http-settings';
import { renderQueryTemplate } from '../src/semantics/query-template';
import { DetectionSettings } from '../src/semantics/settings';
import { connectorFailure, FakeHttpProduct, jsonOf, minimalTask, ONE_SEARCH, runDetection, searchRequest } from '../src/testing';

const API_KEY = 'edr-key-7c1d9e';
const EXECUTED_AT = new Date('2025-01-10T12:00:00Z');
/** one search, over the minute before the execution */
const ONE_SEARCH_OVER_A_MINUTE: DetectionSettings = { ...ONE_SEARCH, windowBeforeSeconds: 60 };

/** A task as the dispatcher sends it, for the http connector. */
function httpTask(config: Record<string, unknown>, content = '{"filter": {"host": {{host}}}}', timeoutSeconds = 5): DetectionTaskMessage {
  return minimalTask({
    platform: 'edr',
    connector: 'http',
    queryType: 'http_search',
    content,
    timeoutSeconds,
    priority: 'high',
    createdAt: EXECUTED_AT.toISOString(),
    originalCommand: 'whoami /all',
    agentPaw: 'paw-1',
    executionId: 'exec-1',
    config,
  });
}

function request(config: Record<string, unknown>, body = '{"q": "x"}'): SearchRequest {
  return searchRequest(body, { earliest: new Date('2025-01-10T11:59:00Z'), latest: EXECUTED_AT, task: httpTask(config) });
}

function settingsFor(targets: Record<string, unknown>, env: NodeJS.ProcessEnv = {}): HttpConnectorSettings {
  return loadHttpConnectorSettings({ HTTP_CONNECTOR_TARGETS: JSON.stringify(targets), ...env }) as HttpConnectorSettings;
}

describe('HttpConnector against a JSON search API', () => {
  let product: FakeHttpProduct;
  let connector: HttpConnector;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    product = await FakeHttpProduct.start({ apiKey: API_KEY, apiKeyHeader: 'X-Api-Key' });
  });
  beforeEach(() => {
    product.searches.length = 0;
    product.server.requests.length = 0;
    product.respond = () => ({ items: [] });
    connector = new HttpConnector(
      settingsFor(
        { edr: { url: `${product.searchUrl}?tenant=lab`, method: 'POST', headers: { 'X-Api-Key': '${EDR_API_KEY}', 'X-Client': 'purple' }, max_retry_after_seconds: 5 } },
        { EDR_API_KEY: API_KEY },
      ),
    );
  });
  afterAll(() => product?.close());

  const MATCH = { match_path: '$.data', id_path: 'alert_id', time_path: '$.detected_at', link_path: '@.url' };

  it('finds a match: the configured request with the templated body, and evidence from the id, time and link paths', async () => {
    product.respond = () => ({
      items: [
        { alert_id: 'A-1', detected_at: '2025-01-10T12:00:04Z', url: 'https://edr.example/alerts/A-1', host: 'web-01' },
        { alert_id: 77, detected_at: 1736510409, url: 'javascript:alert(1)' },
      ],
    });
    const task = httpTask(
      { ...MATCH, query_params: { from: '{{earliest}}', host: 'host {{host}}', limit: 50 } },
      '{"filter": {"host": {{host}}, "command": "*{{command}}*", "from": {{earliest}}, "to": {{latest}}}}',
    );
    const outcome = await runDetection(connector, task, { settings: ONE_SEARCH_OVER_A_MINUTE, signal });

    expect(outcome).toMatchObject({ status: 'detected', eventsFound: 2, searches: 1 });
    expect(outcome.events).toEqual([
      { id: 'A-1', eventTime: new Date('2025-01-10T12:00:04Z'), link: 'https://edr.example/alerts/A-1' },
      // epoch seconds read as a time; a link that is not http(s) is not kept
      { id: '77', eventTime: new Date(1736510409 * 1000) },
    ]);
    expect(outcome.rawOutput).toContain('"alert_id":"A-1"');

    expect(product.searches).toHaveLength(1);
    const [search] = product.searches;
    expect(search.method).toBe('POST');
    expect(search.headers).toMatchObject({ 'x-api-key': API_KEY, 'x-client': 'purple', 'content-type': 'application/json', accept: 'application/json' });
    expect(jsonOf(search)).toEqual({ filter: { host: 'web-01', command: '*whoami /all*', from: '2025-01-10T11:59:00.000Z', to: '2025-01-10T12:00:00.000Z' } });
    expect(Object.fromEntries(search.query)).toEqual({ tenant: 'lab', from: '2025-01-10T11:59:00.000Z', host: 'host web-01', limit: '50' });
  });

  it('keeps a placeholder value with quotes and braces inside its JSON string', async () => {
    const hostile = 'web-01"}, "size": 10000, "filter": {"host": "*';
    const task = httpTask({ ...MATCH, placeholders: { host: hostile } }, '{"filter": {"host": {{host}}, "note": "on {{host}}\\n"}}');
    await runDetection(connector, task, { settings: ONE_SEARCH_OVER_A_MINUTE, signal });

    expect(jsonOf(product.searches[0])).toEqual({ filter: { host: hostile, note: `on ${hostile}\n` } });
  });

  it('reports a miss as no events', async () => {
    const outcome = await connector.search(request(MATCH), signal);
    expect(outcome).toEqual({ eventsFound: 0, events: [], rawOutput: '{"meta":{"total":0},"data":[]}' });
  });

  it('counts each result of a path that selects items, and takes the product’s total from count_path', async () => {
    product.respond = () => ({ items: [{ alert_id: 'a', severity: 2 }, { alert_id: 'b', severity: 9 }, { alert_id: 'c' }], total: 57 });

    const filtered = await connector.search(request({ match_path: '$.data[?(@.severity > 5)]', id_path: 'alert_id' }), signal);
    // the item without a severity is skipped by the filter, not an error
    expect(filtered).toMatchObject({ eventsFound: 1, events: [{ id: 'b' }] });

    const counted = await connector.search(request({ match_path: '$.data[*]', count_path: '$.meta.total' }), signal);
    expect(counted.eventsFound).toBe(57);
    expect(counted.events).toHaveLength(3);

    const countOnly = await connector.search(request({ count_path: '$.meta.total' }), signal);
    expect(countOnly).toMatchObject({ eventsFound: 57, events: [] });
  });

  it('sends no body to a GET target, only its query string', async () => {
    const get = new HttpConnector(settingsFor({ alerts: { url: product.searchUrl, method: 'get', headers: { 'x-api-key': API_KEY } } }));
    await get.search(request({ match_path: '$.data', query_params: { q: 'x' } }), signal);
    expect(product.searches[0]).toMatchObject({ method: 'GET', body: '' });
    expect(product.searches[0].headers['content-type']).toBeUndefined();
    expect(product.searches[0].query.get('q')).toBe('x');
  });

  it('refuses on 401 with one final error that holds no credential, ending the task at once', async () => {
    const wrongKey = 'wrong-key-31337';
    const wrong = new HttpConnector(settingsFor({ edr: { url: product.searchUrl, headers: { 'X-Api-Key': '${KEY}' } } }, { KEY: wrongKey }));
    const error = await connectorFailure(wrong.search(request(MATCH), signal));
    expect(error).toMatchObject({ retryable: false, message: 'http target "edr" refused the credentials (HTTP 401)' });
    expect(JSON.stringify(error) + error.message + error.stack).not.toContain(wrongKey);

    const outcome = await runDetection(wrong, httpTask(MATCH), { settings: { ...ONE_SEARCH_OVER_A_MINUTE, maxConsecutiveFailures: 3 }, signal });
    expect(outcome).toMatchObject({ status: 'error', error: 'http target "edr" refused the credentials (HTTP 401)', searches: 1 });
    expect(JSON.stringify(outcome)).not.toContain(wrongKey);
    expect(product.server.requests).toHaveLength(2);
    expect(product.searches).toHaveLength(0);
  });

  it('honours Retry-After on 429 and then answers', async () => {
    let calls = 0;
    product.respond = () => (++calls === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: { message: 'slow down' } } : { items: [{ alert_id: 'x' }] });
    const outcome = await connector.search(request(MATCH), signal);
    expect(outcome.eventsFound).toBe(1);
    expect(product.searches).toHaveLength(2);
    expect(product.searches[1].receivedAt - product.searches[0].receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('does not wait for a Retry-After beyond the target’s bound: a retryable error that carries the wait', async () => {
    product.respond = () => ({ status: 429, headers: { 'retry-after': '120' } });
    const error = await connectorFailure(connector.search(request(MATCH), signal));
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 120_000, message: 'http target "edr" is rate limiting (HTTP 429) and asked to wait 120 s' });
    expect(product.searches).toHaveLength(1);
  });

  it('times out a search that hangs, after the task’s timeout, through the detection semantics', async () => {
    product.respond = () => ({ hang: true });
    const outcome = await runDetection(connector, httpTask(MATCH, '{}', 1), { settings: ONE_SEARCH_OVER_A_MINUTE, signal });
    expect(outcome).toMatchObject({ status: 'error', error: 'http search timed out after 1 s (1 failures in a row)' });
  });

  it('reports 5xx as retryable with the product’s reason, scrubbed of the credential', async () => {
    product.respond = () => ({ status: 502, body: '<html>bad gateway</html>' });
    expect(await connectorFailure(connector.search(request(MATCH), signal))).toMatchObject({ retryable: true, message: 'http target "edr" answered HTTP 502' });

    product.respond = (received) => ({ status: 500, body: { error: { message: `backend failed for key ${received.headers['x-api-key']}` } } });
    const echoed = await connectorFailure(connector.search(request(MATCH), signal));
    expect(echoed).toMatchObject({ retryable: true, message: 'http target "edr" answered HTTP 500: backend failed for key [redacted]' });
  });

  it('reports a request the product refuses (other 4xx) as final, with its reason', async () => {
    product.respond = () => ({ status: 400, body: { errors: [{ message: 'unknown field "hostt"' }] } });
    expect(await connectorFailure(connector.search(request(MATCH), signal))).toMatchObject({
      retryable: false,
      message: 'http target "edr" refused the request (HTTP 400): unknown field "hostt"',
    });
  });

  it('keeps the credential out of the raw output when the product echoes it', async () => {
    product.respond = (received) => ({ status: 200, body: { data: [], request: { headers: received.headers } } });
    const outcome = await connector.search(request(MATCH), signal);
    expect(outcome.rawOutput).toContain('"x-api-key":"[redacted]"');
    expect(outcome.rawOutput).not.toContain(API_KEY);
  });

  it('reports a body that is not JSON as a final error', async () => {
    product.respond = () => ({ status: 200, headers: { 'content-type': 'text/html' }, body: '<html>login</html>' });
    expect(await connectorFailure(connector.search(request(MATCH), signal))).toMatchObject({
      retryable: false,
      message: 'http target "edr" returned a malformed response: the body is not JSON',
    });
  });

  it('reports an invalid JSONPath as a final error with the reason', async () => {
    product.respond = () => ({ items: [{ severity: 3 }] });
    const unparsable = await connectorFailure(connector.search(request({ match_path: '$.data[?(@.severity >)]' }), signal));
    expect(unparsable).toMatchObject({ retryable: false, message: 'http: detection_config.match_path is not a valid JSONPath: Expected expression after >' });
    expect(product.searches).toHaveLength(1);

    // caught before the product is asked
    const unbalanced = await connectorFailure(connector.search(request({ match_path: '$.data[0', id_path: 'id' }), signal));
    expect(unbalanced.message).toBe('http: detection_config.match_path is not a valid JSONPath: an unclosed bracket, parenthesis or quote');
    const stray = await connectorFailure(connector.search(request({ match_path: '$.data', time_path: 'a]' }), signal));
    expect(stray.message).toBe('http: detection_config.time_path is not a valid JSONPath: unbalanced "]" at character 2');
    const missing = await connectorFailure(connector.search(request({ id_path: 'id' }), signal));
    expect(missing.message).toMatch(/^http: detection_config\.match_path \(or count_path\) is missing/);
    expect(product.searches).toHaveLength(1);
  });

  it('does not run code in a filter (safe evaluation)', async () => {
    product.respond = () => ({ items: [{ a: 1 }] });
    // native evaluation would reach Function through the item's constructor and match
    const escape = '$.data[?(@.constructor.constructor("return 1")() == 1)]';
    expect((await connector.search(request({ match_path: escape }), signal)).eventsFound).toBe(0);
    expect((await connector.search(request({ match_path: '$.data[?(@.a == 1)]' }), signal)).eventsFound).toBe(1);
  });

  it('reports a count_path that finds no number as a malformed answer', async () => {
    expect(await connectorFailure(connector.search(request({ count_path: '$.meta.missing' }), signal))).toMatchObject({
      retryable: false,
      message: 'http target "edr" returned no count (a number) at detection_config.count_path',
    });
  });

  it('picks the task’s target; an unknown or missing one is a final error naming the configured targets', async () => {
    const two = new HttpConnector(
      settingsFor({ edr: { url: product.searchUrl, headers: { 'x-api-key': API_KEY } }, siem: { url: `${product.url}/elsewhere` } }),
    );
    await two.search(request({ ...MATCH, target: 'edr' }), signal);
    expect(product.searches).toHaveLength(1);

    expect(await connectorFailure(two.search(request({ ...MATCH, target: 'https://attacker.example/' }), signal))).toMatchObject({
      retryable: false,
      message: 'http: detection_config.target names no configured target (configured: edr, siem)',
    });
    expect((await connectorFailure(two.search(request(MATCH), signal))).message).toBe(
      'http: detection_config.target is missing: several targets are configured (edr, siem)',
    );
    expect(product.server.requests).toHaveLength(1);
  });

  it('does not let query_params replace a parameter of the target’s URL', async () => {
    const keyed = new HttpConnector(settingsFor({ edr: { url: `${product.searchUrl}?api_key=\${K}` } }, { K: 'k-123456' }));
    const error = await connectorFailure(keyed.search(request({ ...MATCH, query_params: { api_key: 'mine' } }), signal));
    expect(error).toMatchObject({ retryable: false, message: 'http: detection_config.query_params.api_key is set by the target "edr" and cannot be replaced' });
    expect((await connectorFailure(connector.search(request({ ...MATCH, query_params: { who: '{{user}}' } }), signal))).message).toBe(
      'http: detection_config.query_params.who: no value for placeholder {{user}}',
    );
    expect(product.server.requests).toHaveLength(0);
  });
});

describe('JSON_QUERY_SYNTAX', () => {
  const render = (template: string, values: Record<string, string>) => renderQueryTemplate(template, values, JSON_QUERY_SYNTAX);

  it('inserts values as JSON string literals that a quote, a brace or a control character cannot leave', () => {
    const hostile = 'a"}, "admin": true, "x": {"y": "\\';
    const body = render('{"host": {{host}}, "cmd": "run {{cmd}} now"}', { host: hostile, cmd: 'l1\nl2\t\u0001\u2028' });
    expect(body).toBe(
      '{"host": "a\\"}, \\"admin\\": true, \\"x\\": {\\"y\\": \\"\\\\", "cmd": "run l1\\u000al2\\u0009\\u0001\\u2028 now"}',
    );
    expect(JSON.parse(body)).toEqual({ host: hostile, cmd: 'run l1\nl2\t\u0001\u2028 now' });
  });

  it('writes the window as ISO 8601', () => {
    expect(JSON_QUERY_SYNTAX.formatTime(new Date(Date.UTC(2025, 0, 10, 12)))).toBe('2025-01-10T12:00:00.000Z');
  });
});

describe('loadHttpConnectorSettings', () => {
  it('is undefined (connector not registered) without targets', () => {
    expect(loadHttpConnectorSettings({})).toBeUndefined();
    expect(apiConnectorsFromEnv({}).map((c) => c.name)).not.toContain('http');
  });

  it('substitutes ${VAR} from the environment in the URL and headers, with defaults for the rest', () => {
    const settings = settingsFor(
      { edr: { url: 'https://${EDR_HOST}/api/search', headers: { Authorization: 'Bearer ${EDR_TOKEN}', 'X-Note': 'cost $5 {x}' } } },
      { EDR_HOST: 'edr.example:8443', EDR_TOKEN: 'tok-abc-123' },
    );
    expect(settings.targets.get('edr')).toEqual({
      name: 'edr',
      url: new URL('https://edr.example:8443/api/search'),
      method: 'POST',
      headers: { Authorization: 'Bearer tok-abc-123', 'X-Note': 'cost $5 {x}' },
      verifyTls: true,
      maxRetryAfterMs: 30_000,
      secrets: ['edr.example:8443', 'tok-abc-123'],
    });
    const full = settingsFor({ lab: { url: 'http://lab:9200/_search', method: 'GET', verify_tls: false, max_retry_after_seconds: 0 } });
    expect(full.targets.get('lab')).toMatchObject({ method: 'GET', verifyTls: false, maxRetryAfterMs: 0, headers: {}, secrets: [] });
  });

  it('reads the targets from HTTP_CONNECTOR_TARGETS_FILE and registers the connector', () => {
    const dir = mkdtempSync(join(tmpdir(), 'http-targets-'));
    try {
      const file = join(dir, 'targets.json');
      writeFileSync(file, JSON.stringify({ edr: { url: 'https://edr.example/api', headers: { 'X-Api-Key': '${EDR_API_KEY}' } } }));
      const env = { HTTP_CONNECTOR_TARGETS_FILE: file, EDR_API_KEY: 'file-key-1' };
      expect(loadHttpConnectorSettings(env)?.targets.get('edr')?.headers).toEqual({ 'X-Api-Key': 'file-key-1' });
      expect(apiConnectorsFromEnv(env).map((c) => c.name)).toContain('http');
      expect(() => loadHttpConnectorSettings({ HTTP_CONNECTOR_TARGETS_FILE: join(dir, 'absent.json') })).toThrow(
        'Invalid configuration: HTTP_CONNECTOR_TARGETS_FILE cannot be read (ENOENT)',
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('names a missing variable with its target and key, never a value', () => {
    const load = () =>
      loadHttpConnectorSettings({
        HTTP_CONNECTOR_TARGETS: JSON.stringify({ edr: { url: 'https://edr.example/api', headers: { 'X-Api-Key': '${EDR_API_KEY}', 'X-Other': '${1BAD}' } } }),
        EDR_API_KEY: '',
      });
    expect(load).toThrow(
      'Invalid configuration: HTTP_CONNECTOR_TARGETS: target "edr" headers.X-Api-Key uses ${EDR_API_KEY}, which is not set; ' +
        'HTTP_CONNECTOR_TARGETS: target "edr" headers.X-Other has a malformed ${…} (a variable name is letters, digits and _)',
    );
  });

  it('names every bad target and key at once, without values', () => {
    const secret = 'super-secret-99';
    let message = '';
    try {
      loadHttpConnectorSettings({
        HTTP_CONNECTOR_TARGETS: JSON.stringify({
          a: { url: `https://user:${secret}@edr.example/`, verifyTls: false },
          b: { url: 'ftp://edr.example/', method: 'PUT', verify_tls: 'no', max_retry_after_seconds: 5000 },
          c: { url: 'https://edr.example/', headers: { 'X-Key': '${INJECTED}', 'Content-Length': '1', 'bad name': 'x', 'X-N': 3 } },
          'd/e': { url: 'https://edr.example/#frag' },
          f: 'https://edr.example/',
          g: {},
        }),
        INJECTED: `${secret}\r\nX-Evil: 1`,
      });
    } catch (error) {
      message = (error as Error).message;
    }
    const p = 'HTTP_CONNECTOR_TARGETS: target';
    expect(message.split('; ')).toEqual([
      `Invalid configuration: ${p} "a" has an unknown key "verifyTls" (known: url, method, headers, verify_tls, max_retry_after_seconds)`,
      `${p} "a" url must not contain credentials (send them in headers)`,
      `${p} "b" url must be an http(s) URL`,
      `${p} "b" method must be GET or POST`,
      `${p} "b" verify_tls must be true or false`,
      `${p} "b" max_retry_after_seconds must be an integer from 0 to 3600`,
      `${p} "c" headers.X-Key holds a line break or control character`,
      `${p} "c" headers.Content-Length is set by the connector`,
      `${p} "c" headers has a bad header name "bad name"`,
      `${p} "c" headers.X-N must be text`,
      `${p} "d/e" has a bad name (1 to 64 letters, digits, _, . or -)`,
      `${p} "d/e" url must not have a #fragment`,
      `${p} "f" must be an object`,
      `${p} "g" url is missing`,
    ]);
    expect(message).not.toContain(secret);
  });

  it('refuses malformed JSON without quoting it, an empty object, and both variables at once', () => {
    expect(() => loadHttpConnectorSettings({ HTTP_CONNECTOR_TARGETS: '{"edr": {"headers": {"k": "secret-zz"' })).toThrow(
      /^Invalid configuration: HTTP_CONNECTOR_TARGETS is not valid JSON$/,
    );
    expect(() => loadHttpConnectorSettings({ HTTP_CONNECTOR_TARGETS: '[]' })).toThrow('HTTP_CONNECTOR_TARGETS must be a JSON object of named targets');
    expect(() => loadHttpConnectorSettings({ HTTP_CONNECTOR_TARGETS: '{}' })).toThrow('HTTP_CONNECTOR_TARGETS defines no target');
    expect(() => loadHttpConnectorSettings({ HTTP_CONNECTOR_TARGETS: '{}', HTTP_CONNECTOR_TARGETS_FILE: '/x' })).toThrow(
      'HTTP_CONNECTOR_TARGETS and HTTP_CONNECTOR_TARGETS_FILE are both set: use one',
    );
  });
});
