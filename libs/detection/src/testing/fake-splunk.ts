import { FakeHttpServer, FakeReply, RecordedRequest } from './fake-http-server';
import { basicAuthorization, FakeProduct } from './fake-product';

/** A search as the fake Splunk received it. */
export interface ReceivedSearch {
  search: string;
  earliestTime: string;
  latestTime: string;
  outputMode: string;
  authorization: string | undefined;
  receivedAt: number;
}

/** What the fake answers one search with. */
export type FakeSplunkReply =
  /** 200 with the export's newline-delimited JSON, one `{"result": …}` line per event */
  | { events: Array<Record<string, unknown>> }
  /** anything else, verbatim */
  | { status: number; headers?: Record<string, string>; body?: string }
  /** no answer until the fake is closed (a search that hangs) */
  | { hang: true };

/**
 * Splunk's `POST /services/search/jobs/export` on {@link FakeHttpServer}, as documented: form body (search,
 * earliest_time, latest_time, output_mode=json), token or basic auth (401 with Splunk's message otherwise), and
 * the export's JSON lines. Tests set `respond` to decide each answer; `searches` records what came in.
 */
export class FakeSplunk extends FakeProduct {
  static readonly EXPORT_PATH = '/services/search/jobs/export';

  readonly searches: ReceivedSearch[] = [];
  respond: (search: ReceivedSearch) => FakeSplunkReply | Promise<FakeSplunkReply> = () => ({ events: [] });

  private constructor(
    server: FakeHttpServer,
    private readonly expectedAuthorization: string,
  ) {
    super(server);
  }

  /** Starts on a free port; requests must carry `Authorization: Bearer <token>` (or basic auth for `basic`). */
  static async start(credentials: { token: string } | { username: string; password: string }): Promise<FakeSplunk> {
    const expected = 'token' in credentials ? `Bearer ${credentials.token}` : basicAuthorization(credentials.username, credentials.password);
    return new FakeSplunk(await FakeHttpServer.start(), expected);
  }

  protected async handle(request: RecordedRequest): Promise<FakeReply> {
    if (request.method !== 'POST' || request.path !== FakeSplunk.EXPORT_PATH) {
      return { status: 404, body: messages('ERROR', `Not Found: ${request.method} ${request.path}`) };
    }
    if (request.headers.authorization !== this.expectedAuthorization) {
      return { status: 401, body: messages('WARN', 'call not properly authenticated') };
    }
    const form = new URLSearchParams(request.body);
    const search: ReceivedSearch = {
      search: form.get('search') ?? '',
      earliestTime: form.get('earliest_time') ?? '',
      latestTime: form.get('latest_time') ?? '',
      outputMode: form.get('output_mode') ?? '',
      authorization: request.headers.authorization,
      receivedAt: request.receivedAt,
    };
    this.searches.push(search);
    const reply = await this.respond(search);
    if (!('events' in reply)) return reply;
    const lines = reply.events.map((result, offset) =>
      JSON.stringify({ preview: false, offset, ...(offset === reply.events.length - 1 && { lastrow: true }), result }),
    );
    return { status: 200, body: lines.join('\n') };
  }
}

/** An event as Splunk exports it. */
export function splunkEvent(time: Date, cd: string, fields: Record<string, unknown> = {}): Record<string, unknown> {
  return { _time: time.toISOString().replace('Z', '+00:00'), _cd: cd, _raw: `event ${cd}`, ...fields };
}

/** Splunk's error body: `{"messages":[{"type":…,"text":…}]}`. */
export function messages(type: string, text: string): string {
  return JSON.stringify({ messages: [{ type, text }] });
}
