import { FakeHttpServer, FakeReply, RecordedRequest } from './fake-http-server';

/**
 * What every fake product shares: a {@link FakeHttpServer} of its own whose requests `handle` answers in the
 * product's documented API, the URL it listens on, and closing it. Fakes start with
 * `new FakeX(await FakeHttpServer.start(), …)`.
 */
export abstract class FakeProduct {
  protected constructor(readonly server: FakeHttpServer) {
    server.handler = (request) => this.handle(request);
  }

  get url(): string {
    return this.server.url;
  }

  close(): Promise<void> {
    return this.server.close();
  }

  /** the product's answer to one request */
  protected abstract handle(request: RecordedRequest): FakeReply | Promise<FakeReply>;
}

/** The `Authorization` value of HTTP basic auth. */
export function basicAuthorization(username: string, password: string): string {
  return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
}
