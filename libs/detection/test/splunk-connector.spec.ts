import { SplunkConnector } from '../src/connectors/splunk/splunk-connector';
import { loadSplunkSettings, SplunkSettings } from '../src/connectors/splunk/splunk-settings';
import { connectorFailure, FakeSplunk, messages, minimalTask, runOnce, SEARCH_WINDOW, searchRequest, splunkEvent } from '../src/testing';

const TOKEN = 'tok-secret-4f1c';

describe('SplunkConnector against a server speaking the export API', () => {
  let splunk: FakeSplunk;
  let settings: SplunkSettings;
  const signal = new AbortController().signal;

  beforeAll(async () => {
    splunk = await FakeSplunk.start({ token: TOKEN });
  });
  beforeEach(() => {
    splunk.searches.length = 0;
    settings = { url: splunk.url, auth: { token: TOKEN }, verifyTls: true, webUrl: 'https://splunk.example:8000/en-US', maxRetryAfterMs: 5000 };
  });
  afterAll(() => splunk?.close());

  it('finds a match: events, evidence with id, link and event time, and the documented request', async () => {
    splunk.respond = () => ({ events: [splunkEvent(new Date('2025-01-10T12:00:04Z'), '12:3456', { host: 'web-01' }), splunkEvent(new Date('2025-01-10T12:00:09Z'), '12:3460')] });
    const outcome = await new SplunkConnector(settings).search(searchRequest('index=main host="web-01"'), signal);

    expect(outcome.eventsFound).toBe(2);
    expect(outcome.events[0]).toEqual({
      id: '12:3456',
      eventTime: new Date('2025-01-10T12:00:04Z'),
      link: expect.stringMatching(/^https:\/\/splunk\.example:8000\/en-US\/app\/search\/search\?q=search\+index%3Dmain/),
    });
    expect(outcome.rawOutput).toContain('"lastrow":true');
    expect(splunk.searches).toEqual([
      expect.objectContaining({
        search: 'search index=main host="web-01"',
        earliestTime: String(SEARCH_WINDOW.earliest.getTime() / 1000),
        latestTime: String(SEARCH_WINDOW.latest.getTime() / 1000),
        outputMode: 'json',
        authorization: `Bearer ${TOKEN}`,
      }),
    ]);
  });

  it('reports a miss as no events', async () => {
    splunk.respond = () => ({ events: [] });
    const outcome = await new SplunkConnector(settings).search(searchRequest('| tstats count where index=main'), signal);
    expect(outcome).toMatchObject({ eventsFound: 0, events: [] });
    expect(splunk.searches[0].search).toBe('| tstats count where index=main');
  });

  it('uses basic auth when configured with a user name and password', async () => {
    const basic = await FakeSplunk.start({ username: 'svc', password: 'pw-9' });
    try {
      const outcome = await new SplunkConnector({ ...settings, url: basic.url, auth: { username: 'svc', password: 'pw-9' } }).search(searchRequest('x'), signal);
      expect(outcome.eventsFound).toBe(0);
      expect(basic.searches[0].authorization).toBe(`Basic ${Buffer.from('svc:pw-9').toString('base64')}`);
    } finally {
      await basic.close();
    }
  });

  it('refuses on 401 with one clear, final error that holds no credential', async () => {
    const error = await connectorFailure(new SplunkConnector({ ...settings, auth: { token: 'wrong-token-77' } }).search(searchRequest('x'), signal));
    expect(error.message).toBe('splunk refused the credentials (HTTP 401)');
    expect(error.retryable).toBe(false);
    expect(splunk.searches).toHaveLength(0);
    expect(JSON.stringify(error)).not.toContain('wrong-token-77');
  });

  it('honours Retry-After on 429 and then answers', async () => {
    let calls = 0;
    splunk.respond = () => (++calls === 1 ? { status: 429, headers: { 'retry-after': '1' }, body: messages('WARN', 'too many searches') } : { events: [splunkEvent(new Date(), '1:1')] });
    const outcome = await new SplunkConnector(settings).search(searchRequest('x'), signal);
    expect(outcome.eventsFound).toBe(1);
    expect(splunk.searches).toHaveLength(2);
    expect(splunk.searches[1].receivedAt - splunk.searches[0].receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('backs off briefly on 429 without Retry-After, and takes 503 with Retry-After as a rate limit too', async () => {
    let calls = 0;
    splunk.respond = () => (++calls === 1 ? { status: 429 } : calls === 2 ? { status: 503, headers: { 'retry-after': '1' } } : { events: [] });
    const outcome = await new SplunkConnector(settings).search(searchRequest('x'), signal);
    expect(outcome.eventsFound).toBe(0);
    expect(splunk.searches).toHaveLength(3);
    expect(splunk.searches[2].receivedAt - splunk.searches[1].receivedAt).toBeGreaterThanOrEqual(950);
  });

  it('does not wait for a Retry-After longer than its bound: a retryable error that carries the wait', async () => {
    splunk.respond = () => ({ status: 429, headers: { 'retry-after': '3600' } });
    const error = await connectorFailure(new SplunkConnector(settings).search(searchRequest('x'), signal));
    expect(error).toMatchObject({ retryable: true, retryAfterMs: 3_600_000, message: 'splunk is rate limiting (HTTP 429) and asked to wait 3600 s' });
    expect(splunk.searches).toHaveLength(1);
  });

  it('reports a search Splunk refuses (400 or a FATAL message) as final, with Splunk’s reason', async () => {
    splunk.respond = () => ({ status: 400, body: messages('FATAL', "Unknown search command 'serch'.") });
    const refused = await connectorFailure(new SplunkConnector(settings).search(searchRequest('| serch x'), signal));
    expect(refused).toMatchObject({ retryable: false, message: "splunk refused the request (HTTP 400): Unknown search command 'serch'." });

    splunk.respond = () => ({ status: 200, body: messages('FATAL', 'Error in search: bad field') });
    const fatal = await connectorFailure(new SplunkConnector(settings).search(searchRequest('x'), signal));
    expect(fatal).toMatchObject({ retryable: false, message: 'splunk refused the search: Error in search: bad field' });
  });

  it('reports 5xx and an unreachable server as retryable', async () => {
    splunk.respond = () => ({ status: 502, body: '<html>bad gateway</html>' });
    expect(await connectorFailure(new SplunkConnector(settings).search(searchRequest('x'), signal))).toMatchObject({ retryable: true, message: 'splunk answered HTTP 502' });

    const gone = await FakeSplunk.start({ token: TOKEN });
    const url = gone.url;
    await gone.close();
    const unreachable = await connectorFailure(new SplunkConnector({ ...settings, url }).search(searchRequest('x'), signal));
    expect(unreachable.retryable).toBe(true);
    expect(unreachable.message).toMatch(/^cannot reach splunk at http:\/\/127\.0\.0\.1:\d+: .*ECONNREFUSED/);
  });

  it('reports a malformed export as an error', async () => {
    splunk.respond = () => ({ status: 200, body: '{"preview":false,"result":{}}\n<html>proxy error</html>' });
    expect(await connectorFailure(new SplunkConnector(settings).search(searchRequest('x'), signal))).toMatchObject({
      retryable: false,
      message: 'splunk returned a malformed export: line 2 is not JSON',
    });
  });

  it('times out a search that hangs, after the task’s timeout, through the detection semantics', async () => {
    splunk.respond = () => ({ hang: true });
    const outcome = await runOnce(new SplunkConnector(settings), minimalTask({ queryType: 'splunk_search', timeoutSeconds: 1 }));
    expect(outcome).toMatchObject({ status: 'error', error: 'splunk search timed out after 1 s (1 failures in a row)' });
  });
});

describe('loadSplunkSettings', () => {
  it('is undefined (connector not registered) without SPLUNK_URL', () => {
    expect(loadSplunkSettings({})).toBeUndefined();
  });

  it('reads a token or basic credentials, TLS verification on unless turned off', () => {
    expect(loadSplunkSettings({ SPLUNK_URL: 'https://splunk:8089/', SPLUNK_TOKEN: 't' })).toEqual({
      url: 'https://splunk:8089',
      auth: { token: 't' },
      verifyTls: true,
      maxRetryAfterMs: 30_000,
    });
    expect(
      loadSplunkSettings({ SPLUNK_URL: 'https://splunk:8089', SPLUNK_USERNAME: 'u', SPLUNK_PASSWORD: 'p', SPLUNK_VERIFY_TLS: 'false' }),
    ).toMatchObject({ auth: { username: 'u', password: 'p' }, verifyTls: false });
  });

  it('names what is missing or malformed, never a value', () => {
    expect(() => loadSplunkSettings({ SPLUNK_URL: 'https://splunk:8089' })).toThrow(
      'SPLUNK_TOKEN (or SPLUNK_USERNAME and SPLUNK_PASSWORD) is missing: SPLUNK_URL is set',
    );
    expect(() => loadSplunkSettings({ SPLUNK_URL: 'splunk:8089', SPLUNK_TOKEN: 'secret-x' })).toThrow('SPLUNK_URL is malformed');
    expect(() => loadSplunkSettings({ SPLUNK_URL: 'https://admin:pw@splunk:8089', SPLUNK_TOKEN: 't' })).toThrow(
      'SPLUNK_URL must not contain credentials',
    );
    expect(() => loadSplunkSettings({ SPLUNK_URL: 'https://s:8089', SPLUNK_TOKEN: 'secret-x', SPLUNK_VERIFY_TLS: 'no' })).toThrow(
      /^Invalid configuration: SPLUNK_VERIFY_TLS is malformed[^]*$/,
    );
  });
});
