import { FakeHttpServer, FakeReply, jsonOf, RecordedRequest } from './fake-http-server';
import { FakeProduct } from './fake-product';
import { FakeTokenIssuer } from './fake-token-issuer';

/** A query as the fake Log Analytics API received it. */
export interface ReceivedKqlQuery {
  workspaceId: string;
  query: string;
  timespan: string | undefined;
  authorization: string | undefined;
}

/** The primary result a query answers: column names with their types, and the rows. */
export interface FakeKqlResult {
  columns: Array<{ name: string; type: string }>;
  rows: unknown[][];
}

export interface FakeSentinelIdentity {
  tenantId: string;
  clientId: string;
  clientSecret: string;
  workspaceId: string;
}

const LOG_ANALYTICS_SCOPE = 'https://api.loganalytics.io/.default';

/**
 * A local server speaking the Entra ID token endpoint and the Log Analytics query API as documented:
 * - `POST /{tenant}/oauth2/v2.0/token` (form `grant_type=client_credentials`, `client_id`, `client_secret`,
 *   `scope=https://api.loganalytics.io/.default`) → `{token_type: "Bearer", expires_in, access_token}`; 401
 *   `invalid_client` for a wrong secret, 400 for an unknown tenant or scope;
 * - `POST /v1/workspaces/{workspaceId}/query` `{"query", "timespan"}` → `{tables: [{name: "PrimaryResult", columns,
 *   rows}]}` with what `respond` gives; 404 for another workspace.
 * Queries need `Authorization: Bearer` with a token it issued and has not revoked (else 401 `InvalidTokenError`).
 * `intercept` scripts failures: a reply it gives is sent instead of the documented one.
 */
export class FakeSentinel extends FakeProduct {
  /** what a query finds: a result table, or a reply of its own (an error body, a partial result) */
  respond: (query: ReceivedKqlQuery) => FakeKqlResult | FakeReply = () => ({ columns: [], rows: [] });
  intercept: (request: RecordedRequest) => FakeReply | undefined = () => undefined;
  /** the Entra ID tokens it issues and accepts; `tokens.revoke()` makes the next query answer 401, as expired ones do */
  readonly tokens = new FakeTokenIssuer('fake-entra-token', 3599);

  private constructor(
    server: FakeHttpServer,
    private readonly identity: FakeSentinelIdentity,
  ) {
    super(server);
  }

  static async start(identity: FakeSentinelIdentity): Promise<FakeSentinel> {
    return new FakeSentinel(await FakeHttpServer.start(), identity);
  }

  get tokenRequests(): RecordedRequest[] {
    return this.server.requestsTo(/\/oauth2\/v2\.0\/token$/, 'POST');
  }

  get queryRequests(): RecordedRequest[] {
    return this.server.requestsTo(/^\/v1\/workspaces\/[^/]+\/query$/, 'POST');
  }

  reset(): void {
    this.server.requests.length = 0;
    this.tokens.reset();
    this.respond = () => ({ columns: [], rows: [] });
    this.intercept = () => undefined;
  }

  protected handle(request: RecordedRequest): FakeReply {
    const scripted = this.intercept(request);
    if (scripted) return scripted;
    const tokenPath = /^\/([^/]+)\/oauth2\/v2\.0\/token$/.exec(request.path);
    if (request.method === 'POST' && tokenPath) return this.issueToken(decodeURIComponent(tokenPath[1]), request);
    const queryPath = /^\/v1\/workspaces\/([^/]+)\/query$/.exec(request.path);
    if (request.method === 'POST' && queryPath) return this.query(decodeURIComponent(queryPath[1]), request);
    return logAnalyticsError(404, 'PathNotFoundError', `The requested path does not exist: ${request.path}`);
  }

  private issueToken(tenant: string, request: RecordedRequest): FakeReply {
    const form = new URLSearchParams(request.body);
    if (tenant !== this.identity.tenantId) {
      return entraError(400, 'invalid_request', `AADSTS90002: Tenant '${tenant}' not found.`);
    }
    if (form.get('grant_type') !== 'client_credentials') {
      return entraError(400, 'unsupported_grant_type', 'AADSTS70003: The app requested an unsupported grant type.');
    }
    if (form.get('scope') !== LOG_ANALYTICS_SCOPE) {
      return entraError(400, 'invalid_scope', 'AADSTS1002012: The provided value for scope is not valid.');
    }
    if (form.get('client_id') !== this.identity.clientId) {
      return entraError(400, 'unauthorized_client', 'AADSTS700016: Application was not found in the directory.');
    }
    if (form.get('client_secret') !== this.identity.clientSecret) {
      return entraError(401, 'invalid_client', 'AADSTS7000215: Invalid client secret provided.');
    }
    const lifetime = this.tokens.lifetimeSeconds;
    return { status: 200, body: { token_type: 'Bearer', expires_in: lifetime, ext_expires_in: lifetime, access_token: this.tokens.issue() } };
  }

  private query(workspaceId: string, request: RecordedRequest): FakeReply {
    if (!this.tokens.accepts(request)) {
      return logAnalyticsError(401, 'InvalidTokenError', 'The provided authentication is not valid for this resource');
    }
    if (workspaceId !== this.identity.workspaceId) {
      return logAnalyticsError(404, 'WorkspaceNotFoundError', `The workspace ${workspaceId} could not be found`);
    }
    const body = jsonOf(request);
    if (typeof body?.query !== 'string') return logAnalyticsError(400, 'BadArgumentError', 'The request had some invalid properties');
    const answer = this.respond({ workspaceId, query: body.query, timespan: body.timespan, authorization: request.headers.authorization });
    if ('columns' in answer) return { status: 200, body: { tables: [{ name: 'PrimaryResult', ...answer }] } };
    return answer;
  }
}

/** Entra ID's token error body. */
export function entraError(status: number, error: string, description: string): FakeReply {
  return {
    status,
    body: {
      error,
      error_description: `${description}\r\nTrace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2025-01-10 12:00:00Z`,
      error_codes: [Number(/AADSTS(\d+)/.exec(description)?.[1] ?? 0)],
      trace_id: '0000',
      correlation_id: '1111',
    },
  };
}

/** Log Analytics' error body, `{"error":{"code","message","innererror"}}`. */
export function logAnalyticsError(
  status: number,
  code: string,
  message: string,
  innererror?: Record<string, unknown>,
  headers?: Record<string, string>,
): FakeReply {
  return { status, ...(headers && { headers }), body: { error: { message, code, correlationId: 'fake', ...(innererror && { innererror }) } } };
}
