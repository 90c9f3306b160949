import { ClientCredentialsGrant, ClientCredentialsToken } from '../src/connectors/oauth/client-credentials-token';
import { callProduct } from '../src/connectors/product-http';
import { connectorFailure, FakeHttpServer, FakeReply, movableClock, RecordedRequest } from '../src/testing';

const SECRET = 'cs-secret-Zq81';

describe('ClientCredentialsToken against a token endpoint and an API that checks it', () => {
  let server: FakeHttpServer;
  let tokenReply: (request: RecordedRequest) => FakeReply | Promise<FakeReply>;
  let apiReply: (request: RecordedRequest) => FakeReply;
  let issued: number;
  const signal = new AbortController().signal;

  const tokenRequests = () => server.requestsTo('/token', 'POST');
  const apiRequests = () => server.requestsTo('/api');
  const issue = (expiresIn: unknown = 1800): FakeReply => ({
    status: 200,
    body: { access_token: `token-${++issued}`, token_type: 'Bearer', expires_in: expiresIn },
  });

  function tokenFor(overrides: Partial<ClientCredentialsGrant> = {}): ClientCredentialsToken {
    return new ClientCredentialsToken({
      product: 'acme',
      tokenUrl: new URL(`${server.url}/token`),
      form: { grant_type: 'client_credentials', client_id: 'client-1', client_secret: SECRET },
      secret: SECRET,
      verifyTls: true,
      maxRetryAfterMs: 5000,
      describeError: (answer) => {
        const body = JSON.parse(answer.body) as { error?: string; error_description?: string };
        return [body.error, body.error_description].filter(Boolean).join(': ');
      },
      ...overrides,
    });
  }

  /** an API call through the product-http path, as connectors make them */
  const callApi = (authorization: string) =>
    callProduct(
      { method: 'GET', url: new URL(`${server.url}/api`), headers: { authorization }, signal, maxBodyBytes: 10_000 },
      { product: 'acme', timeoutMs: 5000, maxRetryAfterMs: 5000 },
    ).then((answer) => answer.body);

  beforeAll(async () => {
    server = await FakeHttpServer.start((request) => (request.path === '/token' ? tokenReply(request) : apiReply(request)));
  });
  beforeEach(() => {
    server.requests.length = 0;
    issued = 0;
    tokenReply = () => issue();
    apiReply = () => ({ status: 200, body: 'ok' });
  });
  afterAll(() => server?.close());

  it('posts the grant as a form and caches the token across calls', async () => {
    const token = tokenFor();
    expect(await token.accessToken(signal, 5000)).toBe('token-1');
    expect(await token.accessToken(signal, 5000)).toBe('token-1');
    expect(tokenRequests()).toHaveLength(1);
    expect(tokenRequests()[0].headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(tokenRequests()[0].body))).toEqual({
      grant_type: 'client_credentials',
      client_id: 'client-1',
      client_secret: SECRET,
    });
  });

  it('fetches one token for concurrent callers (single flight)', async () => {
    tokenReply = async () => {
      await new Promise((resolve) => setTimeout(resolve, 200));
      return issue();
    };
    const token = tokenFor();
    const tokens = await Promise.all(Array.from({ length: 5 }, () => token.accessToken(signal, 5000)));
    expect(tokens).toEqual(Array(5).fill('token-1'));
    expect(tokenRequests()).toHaveLength(1);
  });

  it('lets a caller give up without failing the others waiting for the same fetch', async () => {
    tokenReply = async () => {
      await new Promise((resolve) => setTimeout(resolve, 300));
      return issue();
    };
    const token = tokenFor();
    const impatient = new AbortController();
    const first = token.accessToken(impatient.signal, 5000);
    const second = token.accessToken(signal, 5000);
    impatient.abort(new Error('search cancelled'));
    await expect(first).rejects.toThrow('search cancelled');
    expect(await second).toBe('token-1');
    expect(tokenRequests()).toHaveLength(1);
  });

  it('fetches a new token shortly before the old one expires', async () => {
    const clock = movableClock();
    tokenReply = () => issue(120);
    const token = tokenFor({ clock });
    expect(await token.accessToken(signal, 5000)).toBe('token-1');
    clock.advance(100_000);
    expect(await token.accessToken(signal, 5000)).toBe('token-1');
    // refreshed a tenth of its 120 s lifetime before it expires
    clock.advance(9_000);
    expect(await token.accessToken(signal, 5000)).toBe('token-2');
    expect(tokenRequests()).toHaveLength(2);
  });

  it('reads expires_in given as a string, and assumes five minutes without one', async () => {
    const clock = movableClock();
    tokenReply = () => issue('60');
    const stringLifetime = tokenFor({ clock });
    await stringLifetime.accessToken(signal, 5000);
    clock.advance(55_000);
    expect(await stringLifetime.accessToken(signal, 5000)).toBe('token-2');

    tokenReply = () => ({ status: 200, body: { access_token: `token-${++issued}` } });
    const noLifetime = tokenFor({ clock });
    expect(await noLifetime.accessToken(signal, 5000)).toBe('token-3');
    clock.advance(200_000);
    expect(await noLifetime.accessToken(signal, 5000)).toBe('token-3');
    clock.advance(80_000);
    expect(await noLifetime.accessToken(signal, 5000)).toBe('token-4');
  });

  it('drops the token on a 401 from the API and tries once more with a new one', async () => {
    apiReply = (request) => (request.headers.authorization === 'Bearer token-1' ? { status: 401 } : { status: 200, body: 'answered' });
    const token = tokenFor();
    expect(await token.authorized(signal, 5000, callApi)).toBe('answered');
    expect(apiRequests().map((r) => r.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    expect(tokenRequests()).toHaveLength(2);
    // the new token is kept for the next search
    expect(await token.authorized(signal, 5000, callApi)).toBe('answered');
    expect(tokenRequests()).toHaveLength(2);
  });

  it('gives up after one retry when the API refuses fresh tokens too: one final error, no storm', async () => {
    apiReply = () => ({ status: 401 });
    const error = await connectorFailure(tokenFor().authorized(signal, 5000, callApi));
    expect(error).toMatchObject({ retryable: false, message: 'acme refused the credentials (HTTP 401)' });
    expect(apiRequests()).toHaveLength(2);
    expect(tokenRequests()).toHaveLength(2);
  });

  it('does not fetch a new token for a 403 (the client lacks a permission; a new token has the same)', async () => {
    apiReply = () => ({ status: 403 });
    const error = await connectorFailure(tokenFor().authorized(signal, 5000, callApi));
    expect(error).toMatchObject({ retryable: false, message: 'acme refused the credentials (HTTP 403)' });
    expect(apiRequests()).toHaveLength(1);
    expect(tokenRequests()).toHaveLength(1);
  });

  it('reports refused client credentials once, finally, without the secret, and remembers the refusal for a minute', async () => {
    tokenReply = () => ({ status: 401, body: { error: 'invalid_client', error_description: `bad secret ${SECRET}` } });
    const clock = movableClock();
    const token = tokenFor({ clock });
    const error = await connectorFailure(token.authorized(signal, 5000, callApi));
    expect(error).toMatchObject({ retryable: false, message: 'acme refused the client credentials (HTTP 401)' });
    expect(JSON.stringify({ ...error, message: error.message, stack: error.stack })).not.toContain(SECRET);

    // a burst of searches gets the same answer without asking the identity provider again
    await connectorFailure(token.accessToken(signal, 5000));
    await connectorFailure(token.accessToken(signal, 5000));
    expect(tokenRequests()).toHaveLength(1);
    expect(apiRequests()).toHaveLength(0);

    clock.advance(61_000);
    tokenReply = () => issue();
    expect(await token.accessToken(signal, 5000)).toBe('token-1');
    expect(tokenRequests()).toHaveLength(2);
  });

  it('gives the endpoint’s reason for a 400, with an echoed secret blanked out', async () => {
    tokenReply = () => ({ status: 400, body: { error: 'invalid_request', error_description: `client_secret=${SECRET} is not valid` } });
    const error = await connectorFailure(tokenFor().accessToken(signal, 5000));
    expect(error).toMatchObject({
      retryable: false,
      message: 'acme refused the client credentials (HTTP 400): invalid_request: client_secret=[secret] is not valid',
    });
  });

  it('waits for a rate-limited token endpoint, and leaves 5xx to the next search (retryable, not remembered)', async () => {
    let calls = 0;
    tokenReply = () => (++calls === 1 ? { status: 429, headers: { 'retry-after': '1' } } : issue());
    expect(await tokenFor().accessToken(signal, 5000)).toBe('token-1');
    expect(tokenRequests()).toHaveLength(2);
    expect(tokenRequests()[1].receivedAt - tokenRequests()[0].receivedAt).toBeGreaterThanOrEqual(950);

    server.requests.length = 0;
    tokenReply = () => ({ status: 503 });
    const token = tokenFor();
    expect(await connectorFailure(token.accessToken(signal, 5000))).toMatchObject({ retryable: true, message: 'acme answered HTTP 503' });
    tokenReply = () => issue();
    expect(await token.accessToken(signal, 5000)).toBe('token-2');
    expect(tokenRequests()).toHaveLength(2);
  });

  it('times out a token endpoint that does not answer: retryable', async () => {
    tokenReply = () => ({ hang: true });
    const error = await connectorFailure(tokenFor().accessToken(signal, 300));
    expect(error).toMatchObject({ retryable: true, message: 'acme token request timed out after 0.3 s' });
  });

  it('reports a malformed token response as final', async () => {
    tokenReply = () => ({ status: 200, body: '<html>login</html>' });
    expect(await connectorFailure(tokenFor().accessToken(signal, 5000))).toMatchObject({
      retryable: false,
      message: 'acme returned a malformed response: the body is not JSON',
    });
    tokenReply = () => ({ status: 200, body: { token_type: 'Bearer', expires_in: 3600 } });
    expect(await connectorFailure(tokenFor().accessToken(signal, 5000))).toMatchObject({
      retryable: false,
      message: 'acme returned a malformed token response: no access_token',
    });
    tokenReply = () => ({ status: 200, body: { access_token: 'x', token_type: 'mac' } });
    expect(await connectorFailure(tokenFor().accessToken(signal, 5000))).toMatchObject({
      retryable: false,
      message: 'acme returned a malformed token response: token_type is not bearer',
    });
  });
});
