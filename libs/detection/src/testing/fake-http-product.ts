import { FakeHttpServer, FakeReply, RecordedRequest } from './fake-http-server';
import { FakeProduct } from './fake-product';

/** What the fake product answers one authenticated search with. */
export type FakeHttpProductReply =
  /** 200 with `{"meta": {"total": n}, "data": [...items]}` */
  | { items: Array<Record<string, unknown>>; total?: number }
  /** anything else, verbatim (or `{ hang: true }`: no answer until the fake is closed) */
  | FakeReply;

/**
 * A JSON search API for the generic HTTP connector, on {@link FakeHttpServer}: `GET` or `POST` on
 * {@link FakeHttpProduct.SEARCH_PATH}, authenticated by an API-key header (401 `{"error": …}` without it or with a
 * wrong one, before `respond` is asked), answering `{"meta": {"total": n}, "data": [...]}`. `searches` holds the
 * authenticated requests; tests set `respond` to script answers and failures.
 */
export class FakeHttpProduct extends FakeProduct {
  static readonly SEARCH_PATH = '/api/v1/search';

  readonly searches: RecordedRequest[] = [];
  respond: (request: RecordedRequest) => FakeHttpProductReply | Promise<FakeHttpProductReply> = () => ({ items: [] });

  private constructor(
    server: FakeHttpServer,
    readonly apiKeyHeader: string,
    private readonly apiKey: string,
  ) {
    super(server);
  }

  /** Starts on a free port; requests must carry `<apiKeyHeader>: <apiKey>` (header name case-insensitive). */
  static async start(options: { apiKey: string; apiKeyHeader?: string }): Promise<FakeHttpProduct> {
    return new FakeHttpProduct(await FakeHttpServer.start(), (options.apiKeyHeader ?? 'x-api-key').toLowerCase(), options.apiKey);
  }

  /** the search endpoint's URL */
  get searchUrl(): string {
    return `${this.server.url}${FakeHttpProduct.SEARCH_PATH}`;
  }

  protected async handle(request: RecordedRequest): Promise<FakeReply> {
    if (request.path !== FakeHttpProduct.SEARCH_PATH || (request.method !== 'GET' && request.method !== 'POST')) {
      return { status: 404, body: { error: { code: 'not_found', message: `no route ${request.method} ${request.path}` } } };
    }
    if (request.headers[this.apiKeyHeader] !== this.apiKey) {
      return { status: 401, body: { error: { code: 'unauthorized', message: 'missing or invalid API key' } } };
    }
    this.searches.push(request);
    const reply = await this.respond(request);
    if ('items' in reply) return { status: 200, body: { meta: { total: reply.total ?? reply.items.length }, data: reply.items } };
    return reply;
  }
}
