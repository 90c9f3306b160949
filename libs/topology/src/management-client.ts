import { BindingDef, ExchangeDef, PermissionDef, PolicyDef, QueueDef, TopicPermissionDef } from './model';

/**
 * A small client for the RabbitMQ management HTTP API over Node's global fetch: the JSON verbs with
 * vhost/name URL-encoding, plus typed helpers for the objects provisioning and the tests touch.
 *
 * Every failure is a {@link ManagementApiError} whose message is one line (HTTP status and the API's reason, or
 * why the API could not be reached). Credentials never appear in a message.
 */

export interface ManagementClientOptions {
  /**
   * e.g. `http://127.0.0.1:15672`; a path prefix (`http://host/rabbitmq`) is kept. Several nodes' APIs,
   * comma-separated: a request that cannot reach one is sent to the next (each node serves the whole cluster).
   */
  url: string;
  username: string;
  password: string;
  /** per request; default 15 s */
  timeoutMs?: number;
}

export class ManagementApiError extends Error {
  override readonly name = 'ManagementApiError';
  constructor(
    message: string,
    /** HTTP status, undefined when the API could not be reached */
    readonly status: number | undefined,
    readonly method: string,
    readonly path: string,
    /** the API's own `reason`, or the network error code */
    readonly reason: string,
  ) {
    super(message);
  }
}

/** What GET returns for objects; only the fields we use are typed, the rest is kept. */
export interface VhostInfo {
  name: string;
  description?: string;
  tags?: string[];
  [key: string]: unknown;
}
export interface UserInfo {
  name: string;
  password_hash: string;
  hashing_algorithm: string;
  tags: string[] | string;
  limits?: Record<string, number>;
}
export interface WhoAmI {
  name: string;
  tags: string[] | string;
}
export interface ExchangeInfo extends ExchangeDef {
  [key: string]: unknown;
}
export interface QueueInfo {
  name: string;
  vhost: string;
  durable: boolean;
  auto_delete: boolean;
  exclusive?: boolean;
  arguments: Record<string, unknown>;
  /** `classic`, `quorum` or `stream` */
  type?: string;
  messages?: number;
  consumers?: number;
  [key: string]: unknown;
}
export interface BindingInfo {
  source: string;
  vhost: string;
  destination: string;
  destination_type: 'queue' | 'exchange';
  routing_key: string;
  arguments: Record<string, unknown>;
  /** identifies the binding for DELETE */
  properties_key: string;
}
export interface PolicyInfo extends PolicyDef {
  [key: string]: unknown;
}
export interface UserLimitsInfo {
  user: string;
  value: Record<string, number>;
}

type Method = 'GET' | 'PUT' | 'POST' | 'DELETE';

/** One path segment, encoded the way the management API expects (`/` in a vhost name becomes `%2F`). */
export const seg = (s: string) => encodeURIComponent(s);

/** Normalise tags: the API gives an array (3.9+) or a comma-separated string (older). */
export const tagList = (tags: string[] | string | undefined): string[] =>
  (Array.isArray(tags) ? tags : (tags ?? '').split(','))
    .map((t) => t.trim())
    .filter(Boolean)
    .sort();

const oneLine = (s: string) => s.replace(/\s+/g, ' ').trim();

export class ManagementClient {
  /** every base URL without credentials, safe to print */
  readonly urls: string[];
  readonly username: string;
  private readonly authorization: string;
  private readonly timeoutMs: number;
  /** the URL that answered last: requests go there first */
  private current = 0;

  constructor(options: ManagementClientOptions) {
    this.urls = options.url
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean)
      .map((raw) => {
        const u = new URL(raw);
        // credentials in the URL would end up in messages: drop them, the explicit ones are used
        u.username = '';
        u.password = '';
        u.search = '';
        u.hash = '';
        return u.toString().replace(/\/+$/, '');
      });
    if (this.urls.length === 0) throw new TypeError('no management API URL');
    this.username = options.username;
    this.authorization = 'Basic ' + Buffer.from(`${options.username}:${options.password}`, 'utf8').toString('base64');
    this.timeoutMs = options.timeoutMs ?? 15_000;
  }

  // ---- JSON verbs -----------------------------------------------------------------------------------------

  /** the base URL requests go to first (the one that answered last), without credentials */
  get url(): string {
    return this.urls[this.current];
  }

  /**
   * `path` starts with `/api/`; segments must already be encoded (use {@link seg}). A node that cannot be reached
   * is skipped for the next URL; an HTTP answer, even an error, is the cluster's answer and is not retried elsewhere.
   */
  async request<T = unknown>(method: Method, path: string, body?: unknown): Promise<T> {
    let unreachable: ManagementApiError | undefined;
    for (let tried = 0; tried < this.urls.length; tried++) {
      const at = (this.current + tried) % this.urls.length;
      try {
        const result = await this.requestAt<T>(this.urls[at], method, path, body);
        this.current = at;
        return result;
      } catch (err) {
        if (!(err instanceof ManagementApiError) || err.status !== undefined) {
          this.current = at;
          throw err;
        }
        unreachable = unreachable && this.urls.length > 1 ? new ManagementApiError(`${unreachable.message}; ${err.message}`, undefined, method, path, err.reason) : err;
      }
    }
    throw unreachable as ManagementApiError;
  }

  private async requestAt<T>(base: string, method: Method, path: string, body?: unknown): Promise<T> {
    let res: Response;
    try {
      res = await fetch(base + path, {
        method,
        headers: {
          authorization: this.authorization,
          // PUT /api/user-limits answers 406 to `accept: application/json` (3.10), so only GETs ask for JSON
          accept: method === 'GET' ? 'application/json' : '*/*',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (err) {
      const reason = networkReason(err, this.timeoutMs);
      throw new ManagementApiError(
        `cannot reach the management API at ${base}: ${reason}`,
        undefined,
        method,
        path,
        reason,
      );
    }
    const text = await res.text().catch(() => '');
    if (!res.ok) {
      let reason = res.statusText || 'error';
      try {
        const parsed = JSON.parse(text) as { reason?: unknown; error?: unknown };
        const r = parsed.reason ?? parsed.error;
        if (r !== undefined) reason = typeof r === 'string' ? r : JSON.stringify(r);
      } catch {
        if (text) reason = text.slice(0, 200);
      }
      reason = oneLine(reason);
      throw new ManagementApiError(
        `management API ${method} ${path} failed: ${res.status} ${oneLine(res.statusText)}: ${reason}` +
          (res.status === 401 ? ` (user '${this.username}' at ${base})` : ''),
        res.status,
        method,
        path,
        reason,
      );
    }
    if (!text) return undefined as T;
    try {
      return JSON.parse(text) as T;
    } catch {
      return text as unknown as T;
    }
  }

  get<T = unknown>(path: string): Promise<T> {
    return this.request<T>('GET', path);
  }
  /** GET, with a 404 answered as undefined */
  async getOptional<T = unknown>(path: string): Promise<T | undefined> {
    try {
      return await this.get<T>(path);
    } catch (err) {
      if (err instanceof ManagementApiError && err.status === 404) return undefined;
      throw err;
    }
  }
  put<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('PUT', path, body);
  }
  post<T = unknown>(path: string, body: unknown): Promise<T> {
    return this.request<T>('POST', path, body);
  }
  /** DELETE; with `ignoreMissing`, a 404 is success (already gone) */
  async delete(path: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    try {
      await this.request('DELETE', path);
    } catch (err) {
      if (options.ignoreMissing && err instanceof ManagementApiError && err.status === 404) return;
      throw err;
    }
  }

  // ---- broker ---------------------------------------------------------------------------------------------

  overview(): Promise<{ rabbitmq_version: string; management_version: string; cluster_name?: string; [key: string]: unknown }> {
    return this.get('/api/overview');
  }
  /** who these credentials are, and their tags */
  whoami(): Promise<WhoAmI> {
    return this.get('/api/whoami');
  }
  getDefinitions(): Promise<Record<string, unknown>> {
    return this.get('/api/definitions');
  }
  /** import a definitions.json (merges: creates and overwrites, never deletes) */
  postDefinitions(definitions: unknown): Promise<void> {
    return this.post('/api/definitions', definitions);
  }

  // ---- vhosts ---------------------------------------------------------------------------------------------

  listVhosts(): Promise<VhostInfo[]> {
    return this.get('/api/vhosts');
  }
  getVhost(name: string): Promise<VhostInfo | undefined> {
    return this.getOptional(`/api/vhosts/${seg(name)}`);
  }
  putVhost(name: string, body: { description?: string; tags?: string } = {}): Promise<void> {
    return this.put(`/api/vhosts/${seg(name)}`, body);
  }
  deleteVhost(name: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/vhosts/${seg(name)}`, options);
  }

  // ---- users ----------------------------------------------------------------------------------------------

  listUsers(): Promise<UserInfo[]> {
    return this.get('/api/users');
  }
  getUser(name: string): Promise<UserInfo | undefined> {
    return this.getOptional(`/api/users/${seg(name)}`);
  }
  /** create or replace a user; give `password` (hashed by the broker) or `password_hash` + `hashing_algorithm` */
  putUser(
    name: string,
    body: { tags: string[]; password?: string; password_hash?: string; hashing_algorithm?: string },
  ): Promise<void> {
    // 3.10 accepts a list or a comma-separated string; the string works on every version
    return this.put(`/api/users/${seg(name)}`, { ...body, tags: body.tags.join(',') });
  }
  deleteUser(name: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/users/${seg(name)}`, options);
  }

  // ---- permissions ----------------------------------------------------------------------------------------

  getPermission(vhost: string, user: string): Promise<PermissionDef | undefined> {
    return this.getOptional(`/api/permissions/${seg(vhost)}/${seg(user)}`);
  }
  listVhostPermissions(vhost: string): Promise<PermissionDef[]> {
    return this.get(`/api/vhosts/${seg(vhost)}/permissions`);
  }
  putPermission(p: PermissionDef): Promise<void> {
    return this.put(`/api/permissions/${seg(p.vhost)}/${seg(p.user)}`, {
      configure: p.configure,
      write: p.write,
      read: p.read,
    });
  }
  deletePermission(vhost: string, user: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/permissions/${seg(vhost)}/${seg(user)}`, options);
  }

  /** the user's topic permissions in the vhost, one per exchange ([] when none) */
  async getTopicPermissions(vhost: string, user: string): Promise<TopicPermissionDef[]> {
    return (await this.getOptional<TopicPermissionDef[]>(`/api/topic-permissions/${seg(vhost)}/${seg(user)}`)) ?? [];
  }
  putTopicPermission(p: TopicPermissionDef): Promise<void> {
    return this.put(`/api/topic-permissions/${seg(p.vhost)}/${seg(p.user)}`, {
      exchange: p.exchange,
      write: p.write,
      read: p.read,
    });
  }
  /** removes all of the user's topic permissions in the vhost */
  deleteTopicPermissions(vhost: string, user: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/topic-permissions/${seg(vhost)}/${seg(user)}`, options);
  }

  // ---- user limits ----------------------------------------------------------------------------------------

  /** e.g. `{ 'max-connections': 100 }`; {} when the user has none */
  async getUserLimits(user: string): Promise<Record<string, number>> {
    const rows = (await this.getOptional<UserLimitsInfo[]>(`/api/user-limits/${seg(user)}`)) ?? [];
    return Object.assign({}, ...rows.filter((r) => r.user === user).map((r) => r.value));
  }
  putUserLimit(user: string, limit: 'max-connections' | 'max-channels', value: number): Promise<void> {
    return this.put(`/api/user-limits/${seg(user)}/${seg(limit)}`, { value });
  }
  deleteUserLimit(user: string, limit: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/user-limits/${seg(user)}/${seg(limit)}`, options);
  }

  // ---- exchanges ------------------------------------------------------------------------------------------

  listExchanges(vhost: string): Promise<ExchangeInfo[]> {
    return this.get(`/api/exchanges/${seg(vhost)}`);
  }
  getExchange(vhost: string, name: string): Promise<ExchangeInfo | undefined> {
    return this.getOptional(`/api/exchanges/${seg(vhost)}/${seg(name)}`);
  }
  putExchange(x: ExchangeDef): Promise<void> {
    return this.put(`/api/exchanges/${seg(x.vhost)}/${seg(x.name)}`, {
      type: x.type,
      durable: x.durable,
      auto_delete: x.auto_delete,
      internal: x.internal,
      arguments: x.arguments,
    });
  }
  deleteExchange(vhost: string, name: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/exchanges/${seg(vhost)}/${seg(name)}`, options);
  }

  // ---- queues ---------------------------------------------------------------------------------------------

  listQueues(vhost: string): Promise<QueueInfo[]> {
    return this.get(`/api/queues/${seg(vhost)}`);
  }
  getQueue(vhost: string, name: string): Promise<QueueInfo | undefined> {
    return this.getOptional(`/api/queues/${seg(vhost)}/${seg(name)}`);
  }
  putQueue(q: QueueDef): Promise<void> {
    return this.put(`/api/queues/${seg(q.vhost)}/${seg(q.name)}`, {
      durable: q.durable,
      auto_delete: q.auto_delete,
      arguments: q.arguments,
    });
  }
  deleteQueue(vhost: string, name: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/queues/${seg(vhost)}/${seg(name)}`, options);
  }

  // ---- bindings -------------------------------------------------------------------------------------------

  listBindings(vhost: string): Promise<BindingInfo[]> {
    return this.get(`/api/bindings/${seg(vhost)}`);
  }
  /** the bindings from an exchange to a queue */
  async getBindings(vhost: string, exchange: string, queue: string): Promise<BindingInfo[]> {
    return (
      (await this.getOptional<BindingInfo[]>(`/api/bindings/${seg(vhost)}/e/${seg(exchange)}/q/${seg(queue)}`)) ?? []
    );
  }
  createBinding(b: BindingDef): Promise<void> {
    return this.post(`/api/bindings/${seg(b.vhost)}/e/${seg(b.source)}/q/${seg(b.destination)}`, {
      routing_key: b.routing_key,
      arguments: b.arguments,
    });
  }
  deleteBinding(
    vhost: string,
    exchange: string,
    queue: string,
    propertiesKey: string,
    options: { ignoreMissing?: boolean } = {},
  ): Promise<void> {
    return this.delete(
      `/api/bindings/${seg(vhost)}/e/${seg(exchange)}/q/${seg(queue)}/${seg(propertiesKey)}`,
      options,
    );
  }

  // ---- policies -------------------------------------------------------------------------------------------

  listPolicies(vhost: string): Promise<PolicyInfo[]> {
    return this.get(`/api/policies/${seg(vhost)}`);
  }
  getPolicy(vhost: string, name: string): Promise<PolicyInfo | undefined> {
    return this.getOptional(`/api/policies/${seg(vhost)}/${seg(name)}`);
  }
  putPolicy(p: PolicyDef): Promise<void> {
    return this.put(`/api/policies/${seg(p.vhost)}/${seg(p.name)}`, {
      pattern: p.pattern,
      definition: p.definition,
      priority: p.priority,
      'apply-to': p['apply-to'],
    });
  }
  deletePolicy(vhost: string, name: string, options: { ignoreMissing?: boolean } = {}): Promise<void> {
    return this.delete(`/api/policies/${seg(vhost)}/${seg(name)}`, options);
  }
}

/** `ECONNREFUSED`, `ENOTFOUND`, `timed out after 15000 ms`, … from what fetch throws */
function networkReason(err: unknown, timeoutMs: number): string {
  const e = err as { name?: string; message?: string; code?: string; cause?: unknown };
  if (e?.name === 'TimeoutError' || e?.name === 'AbortError') return `timed out after ${timeoutMs} ms`;
  const cause = e?.cause as { code?: string; message?: string; errors?: Array<{ code?: string }> } | undefined;
  const code = cause?.code ?? cause?.errors?.find((x) => x?.code)?.code ?? e?.code;
  if (code) return code;
  return oneLine(cause?.message ?? e?.message ?? String(err));
}

