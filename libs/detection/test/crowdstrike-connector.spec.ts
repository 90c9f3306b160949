import { apiConnectorsFromEnv } from '../src/connectors/api-connectors';
import { alertFilter, CROWDSTRIKE_QUERY_SYNTAX, CrowdStrikeConnector } from '../src/connectors/crowdstrike/crowdstrike-connector';
import { CrowdStrikeSettings, loadCrowdStrikeSettings } from '../src/connectors/crowdstrike/crowdstrike-settings';
import { renderQueryTemplate } from '../src/semantics/query-template';
import {
  connectorFailure,
  FakeCrowdStrike,
  falconAlert,
  falconError,
  minimalTask,
  movableClock,
  ONE_SEARCH,
  runDetection,
  runOnce,
  SEARCH_WINDOW,
  searchRequest,
} from '../src/testing';

const CLIENT_ID = 'falcon-client-7d2';
const CLIENT_SECRET = 'falcon-secret-Qx93';
const { earliest: EARLIEST, latest: LATEST } = SEARCH_WINDOW;
const WINDOW = "timestamp:>='2025-01-10T11:55:00.000Z'+timestamp:<='2025-01-10T12:05:00.000Z'";

function fqlTask(timeoutSeconds: number, createdAt?: string) {
  return minimalTask({ platform: 'edr', queryType: 'fql', content: "product:'epp'", timeoutSeconds, createdAt });
}

describe('CrowdStrikeConnector against a server speaking the Falcon OAuth2 and Alerts APIs', () => {
  let falcon: FakeCrowdStrike;
  let settings: CrowdStrikeSettings;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    falcon = await FakeCrowdStrike.start({ clientId: CLIENT_ID, clientSecret: CLIENT_SECRET });
  });
  beforeEach(() => {
    falcon.reset();
    settings = {
      baseUrl: falcon.url,
      clientId: CLIENT_ID,
      clientSecret: CLIENT_SECRET,
      verifyTls: true,
      consoleUrl: 'https://falcon.eu-1.crowdstrike.com',
      maxRetryAfterMs: 5000,
    };
  });
  afterAll(() => falcon?.close());

  it('finds a match: evidence with id, link and time, from the documented token, query and entities requests', async () => {
    const first = falconAlert('cid1:ind:aid1:101-20-3', new Date('2025-01-10T12:00:04Z'), { hostname: 'web-01' });
    const second = falconAlert('cid1:ind:aid1:102-20-3', new Date('2025-01-10T12:00:09.123456789Z'));
    falcon.respond = () => [first, second];
    const outcome = await new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'+device.hostname:'web-01'"), signal);

    expect(outcome.eventsFound).toBe(2);
    expect(outcome.events).toEqual([
      { id: 'cid1:ind:aid1:101-20-3', link: first.falcon_host_link, eventTime: new Date('2025-01-10T12:00:04Z') },
      { id: 'cid1:ind:aid1:102-20-3', link: second.falcon_host_link, eventTime: new Date('2025-01-10T12:00:09.123Z') },
    ]);
    expect(outcome.rawOutput).toContain('"hostname":"web-01"');

    expect(falcon.tokenRequests).toHaveLength(1);
    expect(falcon.tokenRequests[0].headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(falcon.tokenRequests[0].body))).toEqual({ client_id: CLIENT_ID, client_secret: CLIENT_SECRET });
    expect(falcon.queryRequests).toHaveLength(1);
    expect(Object.fromEntries(falcon.queryRequests[0].query)).toEqual({
      filter: `(product:'epp'+device.hostname:'web-01')+${WINDOW}`,
      limit: '20',
      sort: 'timestamp.desc',
    });
    expect(falcon.queryRequests[0].headers.authorization).toBe('Bearer fake-falcon-token-1');
    expect(falcon.entityRequests).toHaveLength(1);
    expect(JSON.parse(falcon.entityRequests[0].body)).toEqual({ composite_ids: ['cid1:ind:aid1:101-20-3', 'cid1:ind:aid1:102-20-3'] });
    expect(falcon.entityRequests[0].headers).toMatchObject({ authorization: 'Bearer fake-falcon-token-1', 'content-type': 'application/json' });
  });

  it('counts every alert the query found, keeps the first 20 as evidence, and links alerts without a host link to the console', async () => {
    const alerts = Array.from({ length: 25 }, (_, i) => falconAlert(`cid1:ind:aid1:${i}`, new Date('2025-01-10T12:00:00Z'), { falcon_host_link: undefined }));
    falcon.respond = () => alerts;
    const outcome = await new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal);
    expect(outcome.eventsFound).toBe(25);
    expect(outcome.events).toHaveLength(20);
    expect(outcome.events[0].link).toBe('https://falcon.eu-1.crowdstrike.com/unified-detections/cid1:ind:aid1:0');
    expect(JSON.parse(falcon.entityRequests[0].body).composite_ids).toHaveLength(20);
  });

  it('reports a miss without asking for entities', async () => {
    falcon.respond = () => [];
    const outcome = await new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal);
    expect(outcome).toMatchObject({ eventsFound: 0, events: [] });
    expect(JSON.parse(outcome.rawOutput)).toMatchObject({ resources: [], meta: { pagination: { total: 0 } } });
    expect(falcon.entityRequests).toHaveLength(0);
  });

  it('refuses a wrong client secret with one final error, one token request and no secret in it, even under the detection semantics', async () => {
    const wrong = 'wrong-secret-5150';
    const connector = new CrowdStrikeConnector({ ...settings, clientSecret: wrong });
    const error = await connectorFailure(connector.search(searchRequest("product:'epp'"), signal));
    expect(error).toMatchObject({ retryable: false, message: 'crowdstrike refused the client credentials (HTTP 401)' });
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(wrong);

    // a window that would see three searches if the refusal were retryable
    const outcome = await runDetection(new CrowdStrikeConnector({ ...settings, clientSecret: wrong }), fqlTask(5, new Date().toISOString()), {
      settings: { ...ONE_SEARCH, windowAfterSeconds: 2, maxConsecutiveFailures: 3 },
    });
    expect(outcome).toMatchObject({ status: 'error', searches: 1, error: 'crowdstrike refused the client credentials (HTTP 401)' });
    expect(JSON.stringify(outcome)).not.toContain(wrong);
    expect(falcon.tokenRequests).toHaveLength(2);
    expect(falcon.queryRequests).toHaveLength(0);
  });

  it('honours X-RateLimit-RetryAfter (epoch seconds) on 429 and then answers', async () => {
    let calls = 0;
    falcon.intercept = (r) =>
      r.path === '/alerts/queries/alerts/v2' && ++calls === 1
        ? falconError(429, 'API rate limit exceeded.', { 'x-ratelimit-retryafter': String(Math.ceil(Date.now() / 1000) + 1) })
        : undefined;
    falcon.respond = () => [falconAlert('cid1:ind:aid1:1', new Date())];
    const outcome = await new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal);
    expect(outcome.eventsFound).toBe(1);
    expect(falcon.queryRequests).toHaveLength(2);
    expect(falcon.queryRequests[1].receivedAt - falcon.queryRequests[0].receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('leaves a long rate limit to the next interval: retryable, carrying the wait', async () => {
    falcon.intercept = (r) =>
      r.path === '/alerts/queries/alerts/v2'
        ? falconError(429, 'API rate limit exceeded.', { 'x-ratelimit-retryafter': String(Math.floor(Date.now() / 1000) + 600) })
        : undefined;
    const error = await connectorFailure(new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal));
    expect(error.retryable).toBe(true);
    expect(error.retryAfterMs).toBeGreaterThan(590_000);
    expect(error.message).toMatch(/^crowdstrike is rate limiting \(HTTP 429\) and asked to wait (599|600) s$/);
    expect(falcon.queryRequests).toHaveLength(1);
  });

  it('times out a search that hangs, after the task’s timeout, through the detection semantics', async () => {
    falcon.intercept = (r) => (r.path === '/alerts/queries/alerts/v2' ? { hang: true } : undefined);
    const outcome = await runOnce(new CrowdStrikeConnector(settings), fqlTask(1));
    expect(outcome).toMatchObject({ status: 'error', error: 'crowdstrike search timed out after 1 s (1 failures in a row)' });
  });

  it('reports 5xx as retryable, with Falcon’s reason', async () => {
    falcon.intercept = (r) => (r.path === '/alerts/queries/alerts/v2' ? falconError(500, 'internal error, please retry') : undefined);
    expect(await connectorFailure(new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal))).toMatchObject({
      retryable: true,
      message: 'crowdstrike answered HTTP 500: internal error, please retry',
    });
    falcon.intercept = (r) => (r.path === '/oauth2/token' ? { status: 502, body: '<html>bad gateway</html>' } : undefined);
    expect(await connectorFailure(new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal))).toMatchObject({
      retryable: true,
      message: 'crowdstrike answered HTTP 502',
    });
  });

  it('reports an FQL Falcon rejects as final, with its reason', async () => {
    falcon.intercept = (r) => (r.path === '/alerts/queries/alerts/v2' ? falconError(400, "Invalid filter: unknown field 'hostnme'") : undefined);
    expect(await connectorFailure(new CrowdStrikeConnector(settings).search(searchRequest("hostnme:'x'"), signal))).toMatchObject({
      retryable: false,
      message: "crowdstrike refused the request (HTTP 400): Invalid filter: unknown field 'hostnme'",
    });
  });

  it('reports a malformed response as final', async () => {
    falcon.intercept = (r) => (r.path === '/alerts/queries/alerts/v2' ? { status: 200, body: '<html>proxy login</html>' } : undefined);
    expect(await connectorFailure(new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal))).toMatchObject({
      retryable: false,
      message: 'crowdstrike returned a malformed response: the body is not JSON',
    });
    falcon.intercept = (r) => (r.path === '/alerts/queries/alerts/v2' ? { status: 200, body: { resources: { id: 'x' } } } : undefined);
    expect(await connectorFailure(new CrowdStrikeConnector(settings).search(searchRequest("product:'epp'"), signal))).toMatchObject({
      retryable: false,
      message: 'crowdstrike returned a malformed response: resources is not a list of alert ids',
    });
  });

  it('keeps its token across searches, and fetches a new one after it expires or when Falcon answers 401', async () => {
    const clock = movableClock();
    const connector = new CrowdStrikeConnector(settings, clock);
    await connector.search(searchRequest("product:'epp'"), signal);
    await connector.search(searchRequest("product:'epp'"), signal);
    expect(falcon.tokenRequests).toHaveLength(1);

    // Falcon tokens live 30 minutes
    clock.advance(29 * 60 * 1000 + 30_000);
    await connector.search(searchRequest("product:'epp'"), signal);
    expect(falcon.tokenRequests).toHaveLength(2);
    expect(falcon.queryRequests.map((r) => r.headers.authorization)).toEqual([
      'Bearer fake-falcon-token-1',
      'Bearer fake-falcon-token-1',
      'Bearer fake-falcon-token-2',
    ]);

    falcon.tokens.revoke();
    const outcome = await connector.search(searchRequest("product:'epp'"), signal);
    expect(outcome.eventsFound).toBe(0);
    expect(falcon.tokenRequests).toHaveLength(3);
    expect(falcon.queryRequests.slice(3).map((r) => r.headers.authorization)).toEqual(['Bearer fake-falcon-token-2', 'Bearer fake-falcon-token-3']);
  });

  it('fetches one token for concurrent searches', async () => {
    const connector = new CrowdStrikeConnector(settings);
    await Promise.all(Array.from({ length: 4 }, () => connector.search(searchRequest("product:'epp'"), signal)));
    expect(falcon.tokenRequests).toHaveLength(1);
    expect(falcon.queryRequests).toHaveLength(4);
  });
});

describe('FQL: placeholders and the time window', () => {
  it('inserts values as single-quoted literals that cannot close their string', () => {
    const query = renderQueryTemplate(
      "device.hostname:{{host}}+cmdline:'*{{marker}}*'",
      { host: "web'+product:'epp", marker: 'a\\b\'c\nd' },
      CROWDSTRIKE_QUERY_SYNTAX,
    );
    expect(query).toBe("device.hostname:'web\\'+product:\\'epp'+cmdline:'*a\\\\b\\'c d*'");
    // FQL cannot escape its wildcard: a host `*` is refused rather than matching every host
    expect(() => renderQueryTemplate('device.hostname:{{host}}', { host: '*' }, CROWDSTRIKE_QUERY_SYNTAX)).toThrow(/holds "\*", which FQL reads as a wildcard/);
  });

  it('limits the query to the window, keeping an OR inside it', () => {
    expect(alertFilter("product:'epp',product:'xdr'", EARLIEST, LATEST)).toBe(`(product:'epp',product:'xdr')+${WINDOW}`);
    expect(alertFilter('  ', EARLIEST, LATEST)).toBe(WINDOW);
    expect(CROWDSTRIKE_QUERY_SYNTAX.formatTime(EARLIEST)).toBe('2025-01-10T11:55:00.000Z');
  });
});

describe('loadCrowdStrikeSettings', () => {
  it('is undefined (connector not registered) without CrowdStrike variables', () => {
    expect(loadCrowdStrikeSettings({ SPLUNK_URL: 'https://splunk:8089' })).toBeUndefined();
    expect(apiConnectorsFromEnv({}).map((c) => c.name)).not.toContain('crowdstrike');
    expect(apiConnectorsFromEnv({ CROWDSTRIKE_CLIENT_ID: 'id', CROWDSTRIKE_CLIENT_SECRET: 's' }).map((c) => c.name)).toContain('crowdstrike');
  });

  it('maps the cloud to its API and console, and lets CROWDSTRIKE_BASE_URL and _CONSOLE_URL override them', () => {
    const credentials = { CROWDSTRIKE_CLIENT_ID: 'id', CROWDSTRIKE_CLIENT_SECRET: 's' };
    expect(loadCrowdStrikeSettings(credentials)).toEqual({
      baseUrl: 'https://api.crowdstrike.com',
      clientId: 'id',
      clientSecret: 's',
      verifyTls: true,
      consoleUrl: 'https://falcon.crowdstrike.com',
      maxRetryAfterMs: 30_000,
    });
    expect(loadCrowdStrikeSettings({ ...credentials, CROWDSTRIKE_CLOUD: 'us-2' })).toMatchObject({
      baseUrl: 'https://api.us-2.crowdstrike.com',
      consoleUrl: 'https://falcon.us-2.crowdstrike.com',
    });
    expect(loadCrowdStrikeSettings({ ...credentials, CROWDSTRIKE_CLOUD: 'eu-1' })).toMatchObject({ baseUrl: 'https://api.eu-1.crowdstrike.com' });
    expect(loadCrowdStrikeSettings({ ...credentials, CROWDSTRIKE_CLOUD: 'us-gov-1' })).toMatchObject({
      baseUrl: 'https://api.laggar.gcw.crowdstrike.com',
    });
    expect(
      loadCrowdStrikeSettings({
        ...credentials,
        CROWDSTRIKE_CLOUD: 'eu-1',
        CROWDSTRIKE_BASE_URL: 'http://127.0.0.1:9999/',
        CROWDSTRIKE_CONSOLE_URL: 'https://console.example/',
        CROWDSTRIKE_VERIFY_TLS: 'false',
        CROWDSTRIKE_MAX_RETRY_AFTER_SECONDS: '5',
      }),
    ).toMatchObject({ baseUrl: 'http://127.0.0.1:9999', consoleUrl: 'https://console.example', verifyTls: false, maxRetryAfterMs: 5000 });
  });

  it('names what is missing or malformed, never a value', () => {
    expect(() => loadCrowdStrikeSettings({ CROWDSTRIKE_CLIENT_ID: 'id' })).toThrow(
      'CROWDSTRIKE_CLIENT_SECRET is missing: the CrowdStrike connector is configured',
    );
    expect(() => loadCrowdStrikeSettings({ CROWDSTRIKE_CLOUD: 'us-1' })).toThrow(
      /CROWDSTRIKE_CLIENT_ID is missing.*CROWDSTRIKE_CLIENT_SECRET is missing/,
    );
    const secret = 'topsecret-88';
    const malformed = () => loadCrowdStrikeSettings({ CROWDSTRIKE_CLIENT_ID: 'id', CROWDSTRIKE_CLIENT_SECRET: secret, CROWDSTRIKE_CLOUD: 'mars-1' });
    expect(malformed).toThrow('CROWDSTRIKE_CLOUD is malformed (CROWDSTRIKE_CLOUD must be one of us-1, us-2, eu-1, us-gov-1)');
    expect(malformed).not.toThrow(secret);
    expect(() =>
      loadCrowdStrikeSettings({ CROWDSTRIKE_CLIENT_ID: 'id', CROWDSTRIKE_CLIENT_SECRET: 's', CROWDSTRIKE_BASE_URL: 'https://u:p@api.example' }),
    ).toThrow('CROWDSTRIKE_BASE_URL must not contain credentials');
  });
});
