import { request as httpRequest, IncomingHttpHeaders } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { ConnectorError } from './connector';

export interface HttpCall {
  method: 'GET' | 'POST';
  url: URL;
  headers: Record<string, string>;
  body?: string;
  signal: AbortSignal;
  /** false accepts any certificate (a lab SIEM with a self-signed one); true by default */
  verifyTls?: boolean;
  /** the body is read up to this size; the rest is dropped and `truncated` set */
  maxBodyBytes: number;
}

export interface HttpAnswer {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
  truncated: boolean;
}

/**
 * One HTTP request for a connector. Network failures become retryable {@link ConnectorError}s that name the
 * product's origin only (never the path's query or a credential); aborting the signal ends the request at once.
 */
export function sendHttp(product: string, call: HttpCall): Promise<HttpAnswer> {
  const send = call.url.protocol === 'https:' ? httpsRequest : httpRequest;
  return new Promise<HttpAnswer>((resolve, reject) => {
    if (call.signal.aborted) return reject(call.signal.reason);
    const req = send(
      call.url,
      {
        method: call.method,
        headers: { ...call.headers, ...(call.body !== undefined && { 'content-length': Buffer.byteLength(call.body) }) },
        signal: call.signal,
        ...(call.url.protocol === 'https:' && { rejectUnauthorized: call.verifyTls !== false }),
      },
      (res) => {
        const chunks: Buffer[] = [];
        let size = 0;
        let truncated = false;
        const finish = () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks).toString('utf8'), truncated });
        res.on('data', (chunk: Buffer) => {
          if (truncated) return;
          const room = call.maxBodyBytes - size;
          if (chunk.length > room) {
            chunks.push(chunk.subarray(0, room));
            size += room;
            truncated = true;
            // enough read: stop the transfer rather than download an unbounded result set
            res.destroy();
            finish();
            return;
          }
          chunks.push(chunk);
          size += chunk.length;
        });
        res.on('end', () => truncated || finish());
        res.on('error', (error) => truncated || reject(networkError(product, call.url, error, call.signal)));
      },
    );
    req.on('error', (error) => reject(networkError(product, call.url, error, call.signal)));
    req.end(call.body);
  });
}

function networkError(product: string, url: URL, error: Error, signal: AbortSignal): unknown {
  // an aborted request is not a network failure: the caller decides what the abort means
  if (signal.aborted) return signal.reason;
  return new ConnectorError(`cannot reach ${product} at ${url.origin}: ${error.message}`, true);
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, now = Date.now()): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined || value.trim() === '') return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim()) * 1000;
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
