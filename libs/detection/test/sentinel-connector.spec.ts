import { apiConnectorsFromEnv } from '../src/connectors/api-connectors';
import { SENTINEL_QUERY_SYNTAX, SentinelConnector } from '../src/connectors/sentinel/sentinel-connector';
import { loadSentinelSettings, SentinelSettings } from '../src/connectors/sentinel/sentinel-settings';
import { renderQueryTemplate } from '../src/semantics/query-template';
import {
  connectorFailure,
  FakeSentinel,
  logAnalyticsError,
  minimalTask,
  movableClock,
  ONE_SEARCH,
  runDetection,
  runOnce,
  SEARCH_WINDOW,
  searchRequest,
} from '../src/testing';

const IDENTITY = {
  tenantId: '72f988bf-86f1-41af-91ab-2d7cd011db47',
  clientId: '5e1c7a9d-0000-4d1e-9c41-6a0e5a2b1c11',
  clientSecret: 'entra-secret~Vb7Q',
  workspaceId: '63613592-b6f7-4c3d-a390-22ba13102111',
};
const SECURITY_ALERT_COLUMNS = [
  { name: 'TimeGenerated', type: 'datetime' },
  { name: 'SystemAlertId', type: 'string' },
  { name: 'AlertName', type: 'string' },
  { name: 'AlertLink', type: 'string' },
];

function kqlTask(timeoutSeconds: number, createdAt?: string) {
  return minimalTask({ queryType: 'kql', content: 'SecurityAlert | take 1', timeoutSeconds, createdAt });
}

describe('SentinelConnector against a server speaking Entra ID and the Log Analytics query API', () => {
  let sentinel: FakeSentinel;
  let settings: SentinelSettings;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    sentinel = await FakeSentinel.start(IDENTITY);
  });
  beforeEach(() => {
    sentinel.reset();
    settings = {
      ...IDENTITY,
      authorityUrl: sentinel.url,
      apiUrl: sentinel.url,
      scope: 'https://api.loganalytics.io/.default',
      verifyTls: true,
      portalUrl: 'https://portal.azure.com/#blade/logs',
      maxRetryAfterMs: 5000,
    };
  });
  afterAll(() => sentinel?.close());

  it('finds a match: evidence with id, link and time, from the documented token and query requests', async () => {
    sentinel.respond = () => ({
      columns: SECURITY_ALERT_COLUMNS,
      rows: [
        ['2025-01-10T12:00:04.1234567Z', 'a1b2c3d4-0000-1111-2222-333344445555', 'Suspicious PowerShell', 'https://portal.azure.com/#asset/alert/1'],
        ['2025-01-10T12:00:09Z', 'a1b2c3d4-0000-1111-2222-666677778888', 'Suspicious PowerShell', ''],
      ],
    });
    const kql = 'SecurityAlert | where CompromisedEntity == "web-01"';
    const outcome = await new SentinelConnector(settings).search(searchRequest(kql), signal);

    expect(outcome.eventsFound).toBe(2);
    expect(outcome.events).toEqual([
      { id: 'a1b2c3d4-0000-1111-2222-333344445555', link: 'https://portal.azure.com/#asset/alert/1', eventTime: new Date('2025-01-10T12:00:04.123Z') },
      { id: 'a1b2c3d4-0000-1111-2222-666677778888', link: 'https://portal.azure.com/#blade/logs', eventTime: new Date('2025-01-10T12:00:09Z') },
    ]);
    expect(JSON.parse(outcome.rawOutput).tables[0].name).toBe('PrimaryResult');

    expect(sentinel.tokenRequests.map((r) => r.path)).toEqual([`/${IDENTITY.tenantId}/oauth2/v2.0/token`]);
    expect(sentinel.tokenRequests[0].headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(sentinel.tokenRequests[0].body))).toEqual({
      grant_type: 'client_credentials',
      client_id: IDENTITY.clientId,
      client_secret: IDENTITY.clientSecret,
      scope: 'https://api.loganalytics.io/.default',
    });
    expect(sentinel.queryRequests.map((r) => r.path)).toEqual([`/v1/workspaces/${IDENTITY.workspaceId}/query`]);
    expect(sentinel.queryRequests[0].headers).toMatchObject({ authorization: 'Bearer fake-entra-token-1', 'content-type': 'application/json' });
    expect(JSON.parse(sentinel.queryRequests[0].body)).toEqual({ query: kql, timespan: '2025-01-10T11:55:00.000Z/2025-01-10T12:05:00.000Z' });
  });

  it('takes the id and time from the first column present, and keeps the first 20 rows as evidence', async () => {
    sentinel.respond = () => ({
      columns: [
        { name: 'Computer', type: 'string' },
        { name: 'EventRecordId', type: 'string' },
        { name: 'TimeCreated', type: 'datetime' },
      ],
      rows: Array.from({ length: 30 }, (_, i) => ['web-01', String(1000 + i), '2025-01-10T12:00:00Z']),
    });
    const outcome = await new SentinelConnector({ ...settings, portalUrl: undefined }).search(searchRequest('Event | where EventID == 4688'), signal);
    expect(outcome.eventsFound).toBe(30);
    expect(outcome.events).toHaveLength(20);
    expect(outcome.events[0]).toEqual({ id: '1000', eventTime: new Date('2025-01-10T12:00:00Z') });
  });

  it('reports a miss as no events', async () => {
    sentinel.respond = () => ({ columns: SECURITY_ALERT_COLUMNS, rows: [] });
    const outcome = await new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal);
    expect(outcome).toMatchObject({ eventsFound: 0, events: [] });
  });

  it('refuses a wrong client secret with one final error, one token request and no secret in it, even under the detection semantics', async () => {
    const wrong = 'wrong~secret~4471';
    const error = await connectorFailure(new SentinelConnector({ ...settings, clientSecret: wrong }).search(searchRequest('SecurityAlert'), signal));
    expect(error).toMatchObject({ retryable: false, message: 'sentinel refused the client credentials (HTTP 401)' });
    expect(JSON.stringify({ ...error, message: error.message })).not.toContain(wrong);

    // a window that would see three searches if the refusal were retryable
    const outcome = await runDetection(new SentinelConnector({ ...settings, clientSecret: wrong }), kqlTask(5, new Date().toISOString()), {
      settings: { ...ONE_SEARCH, windowAfterSeconds: 2, maxConsecutiveFailures: 3 },
    });
    expect(outcome).toMatchObject({ status: 'error', searches: 1, error: 'sentinel refused the client credentials (HTTP 401)' });
    expect(JSON.stringify(outcome)).not.toContain(wrong);
    expect(sentinel.tokenRequests).toHaveLength(2);
    expect(sentinel.queryRequests).toHaveLength(0);
  });

  it('gives Entra ID’s reason for a 400 (an unknown tenant), without its trace ids', async () => {
    const error = await connectorFailure(new SentinelConnector({ ...settings, tenantId: 'contoso.onmicrosoft.com' }).search(searchRequest('SecurityAlert'), signal));
    expect(error).toMatchObject({
      retryable: false,
      message: "sentinel refused the client credentials (HTTP 400): invalid_request: AADSTS90002: Tenant 'contoso.onmicrosoft.com' not found.",
    });
  });

  it('honours Retry-After on 429 and then answers', async () => {
    let calls = 0;
    sentinel.intercept = (r) =>
      r.path.endsWith('/query') && ++calls === 1
        ? logAnalyticsError(429, 'ThrottledError', 'Your request was throttled', undefined, { 'retry-after': '1' })
        : undefined;
    sentinel.respond = () => ({ columns: SECURITY_ALERT_COLUMNS, rows: [['2025-01-10T12:00:04Z', 'id-1', 'x', '']] });
    const outcome = await new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal);
    expect(outcome.eventsFound).toBe(1);
    expect(sentinel.queryRequests).toHaveLength(2);
    expect(sentinel.queryRequests[1].receivedAt - sentinel.queryRequests[0].receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('times out a search that hangs, after the task’s timeout, through the detection semantics', async () => {
    sentinel.intercept = (r) => (r.path.endsWith('/query') ? { hang: true } : undefined);
    const outcome = await runOnce(new SentinelConnector(settings), kqlTask(1));
    expect(outcome).toMatchObject({ status: 'error', error: 'sentinel search timed out after 1 s (1 failures in a row)' });
  });

  it('reports 5xx as retryable, with the service’s reason', async () => {
    sentinel.intercept = (r) => (r.path.endsWith('/query') ? logAnalyticsError(503, 'ServiceUnavailableError', 'The service is temporarily unavailable') : undefined);
    expect(await connectorFailure(new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal))).toMatchObject({
      retryable: true,
      message: 'sentinel answered HTTP 503: ServiceUnavailableError: The service is temporarily unavailable',
    });
    sentinel.intercept = (r) => (r.path.includes('/oauth2/') ? { status: 500, body: { error: 'temporarily_unavailable' } } : undefined);
    expect(await connectorFailure(new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal))).toMatchObject({
      retryable: true,
      message: 'sentinel answered HTTP 500: temporarily_unavailable',
    });
  });

  it('reports a query the service rejects as final, with the innermost reason', async () => {
    sentinel.respond = () =>
      logAnalyticsError(400, 'BadArgumentError', 'The request had some invalid properties', {
        code: 'SyntaxError',
        message: 'A recognition error occurred in the query.',
        innererror: { code: 'SYN0002', message: "Query could not be parsed at 'wher' on line [1,16]" },
      });
    expect(await connectorFailure(new SentinelConnector(settings).search(searchRequest('SecurityAlert | wher x'), signal))).toMatchObject({
      retryable: false,
      message:
        "sentinel refused the request (HTTP 400): BadArgumentError: The request had some invalid properties; SyntaxError: A recognition error occurred in the query.; SYN0002: Query could not be parsed at 'wher' on line [1,16]",
    });
  });

  it('counts a partial result with rows as a match, and one without rows as retryable (it cannot prove a miss)', async () => {
    const partialError = { code: 'PartialError', message: 'There were some errors when processing your query.', innererror: { code: 'E_QUERY_RESULT_SET_TOO_LARGE', message: 'Result truncated' } };
    sentinel.respond = () => ({
      status: 200,
      body: { tables: [{ name: 'PrimaryResult', columns: SECURITY_ALERT_COLUMNS, rows: [['2025-01-10T12:00:04Z', 'id-1', 'x', '']] }], error: partialError },
    });
    expect((await new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal)).eventsFound).toBe(1);

    sentinel.respond = () => ({ status: 200, body: { tables: [{ name: 'PrimaryResult', columns: SECURITY_ALERT_COLUMNS, rows: [] }], error: partialError } });
    expect(await connectorFailure(new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal))).toMatchObject({
      retryable: true,
      message:
        'sentinel returned a partial result without rows: PartialError: There were some errors when processing your query.; E_QUERY_RESULT_SET_TOO_LARGE: Result truncated',
    });
  });

  it('reports a malformed response as final', async () => {
    sentinel.respond = () => ({ status: 200, body: '<html>proxy login</html>' });
    expect(await connectorFailure(new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal))).toMatchObject({
      retryable: false,
      message: 'sentinel returned a malformed response: the body is not JSON',
    });
    sentinel.respond = () => ({ status: 200, body: { tables: [{ name: 'PrimaryResult', columns: [], rows: {} }] } });
    expect(await connectorFailure(new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal))).toMatchObject({
      retryable: false,
      message: 'sentinel returned a malformed response: a table without columns and rows',
    });
    sentinel.respond = () => ({ status: 200, body: { value: [] } });
    expect(await connectorFailure(new SentinelConnector(settings).search(searchRequest('SecurityAlert'), signal))).toMatchObject({
      retryable: false,
      message: 'sentinel returned a malformed response: no result table',
    });
  });

  it('keeps its token across searches, and fetches a new one after it expires or when the API answers 401', async () => {
    const clock = movableClock();
    const connector = new SentinelConnector(settings, clock);
    await connector.search(searchRequest('SecurityAlert'), signal);
    await connector.search(searchRequest('SecurityAlert'), signal);
    expect(sentinel.tokenRequests).toHaveLength(1);

    // Entra tokens here live an hour; a new one is fetched a minute before
    clock.advance(59 * 60 * 1000 + 30_000);
    await connector.search(searchRequest('SecurityAlert'), signal);
    expect(sentinel.tokenRequests).toHaveLength(2);

    sentinel.tokens.revoke();
    const outcome = await connector.search(searchRequest('SecurityAlert'), signal);
    expect(outcome.eventsFound).toBe(0);
    expect(sentinel.tokenRequests).toHaveLength(3);
    expect(sentinel.queryRequests.map((r) => r.headers.authorization)).toEqual([
      'Bearer fake-entra-token-1',
      'Bearer fake-entra-token-1',
      'Bearer fake-entra-token-2',
      'Bearer fake-entra-token-2',
      'Bearer fake-entra-token-3',
    ]);
  });
});

describe('KQL placeholders', () => {
  it('inserts values as double-quoted literals that cannot close their string', () => {
    const query = renderQueryTemplate(
      'SecurityEvent | where Computer == {{host}} and CommandLine has "{{marker}}" and TimeGenerated >= datetime({{earliest}})',
      { host: 'web" or 1==1 //', marker: 'a\\b"c\nd', earliest: SENTINEL_QUERY_SYNTAX.formatTime(SEARCH_WINDOW.earliest) },
      SENTINEL_QUERY_SYNTAX,
    );
    expect(query).toBe(
      'SecurityEvent | where Computer == "web\\" or 1==1 //" and CommandLine has "a\\\\b\\"c d" and TimeGenerated >= datetime("2025-01-10T11:55:00.000Z")',
    );
  });
});

describe('loadSentinelSettings', () => {
  const env = {
    SENTINEL_TENANT_ID: IDENTITY.tenantId,
    SENTINEL_CLIENT_ID: IDENTITY.clientId,
    SENTINEL_CLIENT_SECRET: 's',
    SENTINEL_WORKSPACE_ID: IDENTITY.workspaceId,
  };

  it('is undefined (connector not registered) without Sentinel variables', () => {
    expect(loadSentinelSettings({ SPLUNK_URL: 'https://splunk:8089' })).toBeUndefined();
    expect(apiConnectorsFromEnv({}).map((c) => c.name)).not.toContain('sentinel');
    expect(apiConnectorsFromEnv(env).map((c) => c.name)).toContain('sentinel');
  });

  it('reads the app registration and workspace, with the public cloud’s endpoints by default', () => {
    expect(loadSentinelSettings(env)).toEqual({
      tenantId: IDENTITY.tenantId,
      clientId: IDENTITY.clientId,
      clientSecret: 's',
      workspaceId: IDENTITY.workspaceId,
      authorityUrl: 'https://login.microsoftonline.com',
      apiUrl: 'https://api.loganalytics.io',
      scope: 'https://api.loganalytics.io/.default',
      verifyTls: true,
      maxRetryAfterMs: 30_000,
    });
    expect(
      loadSentinelSettings({
        ...env,
        SENTINEL_AUTHORITY_URL: 'https://login.microsoftonline.us/',
        SENTINEL_API_URL: 'https://api.loganalytics.us/',
        SENTINEL_TOKEN_SCOPE: 'https://api.loganalytics.us/.default',
        SENTINEL_PORTAL_URL: 'https://portal.azure.us/#blade/logs',
        SENTINEL_VERIFY_TLS: 'false',
      }),
    ).toMatchObject({
      authorityUrl: 'https://login.microsoftonline.us',
      apiUrl: 'https://api.loganalytics.us',
      scope: 'https://api.loganalytics.us/.default',
      portalUrl: 'https://portal.azure.us/#blade/logs',
      verifyTls: false,
    });
  });

  it('names what is missing or malformed, never a value', () => {
    expect(() => loadSentinelSettings({ ...env, SENTINEL_CLIENT_SECRET: undefined })).toThrow(
      'SENTINEL_CLIENT_SECRET is missing: the Sentinel connector is configured',
    );
    expect(() => loadSentinelSettings({ SENTINEL_WORKSPACE_ID: IDENTITY.workspaceId })).toThrow(
      /SENTINEL_TENANT_ID is missing.*SENTINEL_CLIENT_ID is missing.*SENTINEL_CLIENT_SECRET is missing/,
    );
    const secret = 'topsecret-91';
    const malformed = () => loadSentinelSettings({ ...env, SENTINEL_CLIENT_SECRET: secret, SENTINEL_WORKSPACE_ID: 'my-workspace' });
    expect(malformed).toThrow('SENTINEL_WORKSPACE_ID is malformed (SENTINEL_WORKSPACE_ID must be the workspace id (a GUID))');
    expect(malformed).not.toThrow(secret);
    expect(() => loadSentinelSettings({ ...env, SENTINEL_TENANT_ID: '../evil' })).toThrow('SENTINEL_TENANT_ID is malformed');
    expect(() => loadSentinelSettings({ ...env, SENTINEL_API_URL: 'https://u:p@api.example' })).toThrow('SENTINEL_API_URL must not contain credentials');
  });
});
