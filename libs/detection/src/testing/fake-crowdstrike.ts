import { FakeHttpServer, FakeReply, jsonOf, RecordedRequest } from './fake-http-server';
import { FakeProduct } from './fake-product';
import { FakeTokenIssuer } from './fake-token-issuer';

/** An alert as `POST /alerts/entities/alerts/v2` returns it (the fields a test cares about; any others pass through). */
export interface FakeFalconAlert {
  composite_id: string;
  timestamp: string;
  falcon_host_link?: string;
  [field: string]: unknown;
}

/** An alert query as the fake received it. */
export interface ReceivedAlertQuery {
  filter: string;
  limit: string | null;
  sort: string | null;
  authorization: string | undefined;
}

/**
 * A local server speaking the CrowdStrike Falcon API a connector uses, as documented:
 * - `POST /oauth2/token` (form `client_id`, `client_secret`) → 201 `{access_token, token_type: "bearer",
 *   expires_in}`, 401 for other credentials;
 * - `GET /alerts/queries/alerts/v2?filter=…&limit=…&sort=…` → `{meta: {pagination: {total}}, resources: [ids],
 *   errors: []}`, with the alerts `respond` gives for the query;
 * - `POST /alerts/entities/alerts/v2` `{"composite_ids": […]}` → `{resources: [alerts]}`.
 * API requests need `Authorization: Bearer` with a token it issued and has not revoked (else 401, as Falcon
 * answers an expired token). `intercept` scripts failures: a reply it gives is sent instead of the documented one.
 */
export class FakeCrowdStrike extends FakeProduct {
  /** the alerts a query finds */
  respond: (query: ReceivedAlertQuery) => FakeFalconAlert[] = () => [];
  /** a reply for any request (429, 5xx, a hang, a malformed body) instead of the documented one; undefined: none */
  intercept: (request: RecordedRequest) => FakeReply | undefined = () => undefined;
  /** the OAuth2 tokens it issues and accepts; `tokens.revoke()` makes the next API request answer 401, as expired ones do */
  readonly tokens = new FakeTokenIssuer('fake-falcon-token', 1799);
  private readonly alertsById = new Map<string, FakeFalconAlert>();

  private constructor(
    server: FakeHttpServer,
    private readonly credentials: { clientId: string; clientSecret: string },
  ) {
    super(server);
  }

  static async start(credentials: { clientId: string; clientSecret: string }): Promise<FakeCrowdStrike> {
    return new FakeCrowdStrike(await FakeHttpServer.start(), credentials);
  }

  get tokenRequests(): RecordedRequest[] {
    return this.server.requestsTo('/oauth2/token', 'POST');
  }

  get queryRequests(): RecordedRequest[] {
    return this.server.requestsTo('/alerts/queries/alerts/v2', 'GET');
  }

  get entityRequests(): RecordedRequest[] {
    return this.server.requestsTo('/alerts/entities/alerts/v2', 'POST');
  }

  /** forgets requests and tokens, and answers as documented again */
  reset(): void {
    this.server.requests.length = 0;
    this.tokens.reset();
    this.alertsById.clear();
    this.respond = () => [];
    this.intercept = () => undefined;
  }

  protected handle(request: RecordedRequest): FakeReply {
    const scripted = this.intercept(request);
    if (scripted) return scripted;
    if (request.method === 'POST' && request.path === '/oauth2/token') return this.issueToken(request);
    const route = `${request.method} ${request.path}`;
    if (route !== 'GET /alerts/queries/alerts/v2' && route !== 'POST /alerts/entities/alerts/v2') {
      return falconError(404, `no route for ${route}`);
    }
    if (!this.tokens.accepts(request)) return falconError(401, 'access denied, invalid bearer token');
    return route === 'GET /alerts/queries/alerts/v2' ? this.queryAlerts(request) : this.alertEntities(request);
  }

  private issueToken(request: RecordedRequest): FakeReply {
    const form = new URLSearchParams(request.body);
    if (form.get('client_id') !== this.credentials.clientId || form.get('client_secret') !== this.credentials.clientSecret) {
      return falconError(401, 'access denied, invalid client');
    }
    return { status: 201, body: { access_token: this.tokens.issue(), token_type: 'bearer', expires_in: this.tokens.lifetimeSeconds } };
  }

  private queryAlerts(request: RecordedRequest): FakeReply {
    const query: ReceivedAlertQuery = {
      filter: request.query.get('filter') ?? '',
      limit: request.query.get('limit'),
      sort: request.query.get('sort'),
      authorization: request.headers.authorization,
    };
    const alerts = this.respond(query);
    for (const alert of alerts) this.alertsById.set(alert.composite_id, alert);
    const limit = Number(query.limit ?? 100);
    return {
      status: 200,
      body: {
        meta: { query_time: 0.01, pagination: { offset: 0, limit, total: alerts.length }, powered_by: 'detectsapi', trace_id: 'fake' },
        resources: alerts.slice(0, limit).map((alert) => alert.composite_id),
        errors: [],
      },
    };
  }

  private alertEntities(request: RecordedRequest): FakeReply {
    const ids: unknown = jsonOf(request)?.composite_ids;
    if (!Array.isArray(ids)) return falconError(400, 'composite_ids is required');
    const alerts = ids.map((id) => this.alertsById.get(String(id))).filter((alert) => alert !== undefined);
    return { status: 200, body: { meta: { query_time: 0.01, powered_by: 'detectsapi', trace_id: 'fake' }, resources: alerts, errors: [] } };
  }
}

/** Falcon's error body: `{"meta":…,"errors":[{"code":…,"message":…}],"resources":[]}`. */
export function falconError(status: number, message: string, headers?: Record<string, string>): FakeReply {
  return { status, ...(headers && { headers }), body: { meta: { trace_id: 'fake' }, errors: [{ code: status, message }], resources: [] } };
}

/** An endpoint alert as the Alerts API returns it. */
export function falconAlert(compositeId: string, time: Date, fields: Record<string, unknown> = {}): FakeFalconAlert {
  return {
    composite_id: compositeId,
    id: compositeId.split(':').slice(1).join(':'),
    timestamp: time.toISOString(),
    created_timestamp: time.toISOString(),
    product: 'epp',
    falcon_host_link: `https://falcon.crowdstrike.com/activity-v2/detections/${compositeId}`,
    ...fields,
  };
}
