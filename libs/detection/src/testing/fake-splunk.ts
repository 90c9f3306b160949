import { createServer, IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

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
 * A local HTTP server that speaks Splunk's `POST /services/search/jobs/export` as documented: form body (search,
 * earliest_time, latest_time, output_mode=json), token or basic auth (401 with Splunk's message otherwise), and
 * the export's JSON lines. Tests set `respond` to decide each answer; `searches` records what came in.
 */
export class FakeSplunk {
  readonly searches: ReceivedSearch[] = [];
  respond: (search: ReceivedSearch) => FakeSplunkReply | Promise<FakeSplunkReply> = () => ({ events: [] });

  private constructor(
    private readonly server: Server,
    private readonly expectedAuthorization: string,
  ) {}

  /** Starts on a free port; requests must carry `Authorization: Bearer <token>` (or basic auth for `basic`). */
  static async start(credentials: { token: string } | { username: string; password: string }): Promise<FakeSplunk> {
    const expected =
      'token' in credentials
        ? `Bearer ${credentials.token}`
        : `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    const server = createServer();
    const fake = new FakeSplunk(server, expected);
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void fake.handle(req, res));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    if (req.method !== 'POST' || req.url !== '/services/search/jobs/export') {
      return send(res, 404, messages('ERROR', `Not Found: ${req.method} ${req.url}`));
    }
    if (req.headers.authorization !== this.expectedAuthorization) {
      return send(res, 401, messages('WARN', 'call not properly authenticated'));
    }
    const form = new URLSearchParams(Buffer.concat(chunks).toString('utf8'));
    const search: ReceivedSearch = {
      search: form.get('search') ?? '',
      earliestTime: form.get('earliest_time') ?? '',
      latestTime: form.get('latest_time') ?? '',
      outputMode: form.get('output_mode') ?? '',
      authorization: req.headers.authorization,
      receivedAt: Date.now(),
    };
    this.searches.push(search);
    const reply = await this.respond(search);
    if ('hang' in reply) return;
    if ('events' in reply) {
      const lines = reply.events.map((result, offset) =>
        JSON.stringify({ preview: false, offset, ...(offset === reply.events.length - 1 && { lastrow: true }), result }),
      );
      return send(res, 200, lines.join('\n'), 'application/json');
    }
    res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
    res.end(reply.body ?? '');
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

function send(res: ServerResponse, status: number, body: string, contentType = 'application/json'): void {
  res.writeHead(status, { 'content-type': contentType });
  res.end(body);
}
