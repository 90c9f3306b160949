import { Injectable } from '@nestjs/common';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import { ResolvedAddress, UndeliverableUrlError, resolveDeliverableUrl } from '@purple/bus';
import { BusRouterEnv } from '../config';

/**
 * The most of a receiver's answer body that is read: the status alone decides, and draining an endless body would
 * hold the socket for ever. Past this the connection is closed.
 */
export const MAX_WEBHOOK_RESPONSE_BYTES = 64 * 1024;

/** How one POST ended. */
export type WebhookResponse =
  | { outcome: 'answered'; status: number }
  | { outcome: 'timed-out' }
  /** the URL may not be reached (it resolves to a private address now) */
  | { outcome: 'refused'; reason: string }
  /** no HTTP answer: DNS failure, connection refused or reset */
  | { outcome: 'failed'; reason: string };

export interface WebhookPost {
  url: string;
  body: Buffer;
  headers: Record<string, string>;
}

/** Sends one webhook POST. */
export interface WebhookTransport {
  post(post: WebhookPost): Promise<WebhookResponse>;
}

/**
 * POSTs with Node's http client: the URL is checked by the guard at every attempt and the connection goes to the
 * very addresses it approved (a pinned lookup), so DNS rebinding between check and connect gains nothing.
 * Redirects are not followed: a 3xx is an answer like any other non-2xx. WEBHOOK_TIMEOUT_MS bounds the whole
 * exchange, the answer's body included, and at most {@link MAX_WEBHOOK_RESPONSE_BYTES} of that body are read.
 */
@Injectable()
export class WebhookSender implements WebhookTransport {
  constructor(private readonly config: BusRouterEnv) {}

  async post({ url, body, headers }: WebhookPost): Promise<WebhookResponse> {
    let target;
    try {
      target = await resolveDeliverableUrl(url, {
        allowPrivate: this.config.WEBHOOK_ALLOW_PRIVATE,
        allowlist: this.config.webhookAllowlist,
      });
    } catch (error) {
      if (error instanceof UndeliverableUrlError) return { outcome: 'refused', reason: error.message };
      throw error;
    }
    const { url: parsed, addresses } = target;
    const send = parsed.protocol === 'https:' ? httpsRequest : httpRequest;
    const timeoutMs = this.config.WEBHOOK_TIMEOUT_MS;

    return new Promise<WebhookResponse>((resolve) => {
      let settled = false;
      const settle = (response: WebhookResponse) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(response);
      };
      const req = send(
        {
          method: 'POST',
          protocol: parsed.protocol,
          hostname: parsed.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: parsed.port || undefined,
          path: `${parsed.pathname}${parsed.search}`,
          headers: {
            ...headers,
            'content-type': 'application/json',
            'content-length': String(body.length),
            'user-agent': 'purple-bus-router',
          },
          lookup: pinnedLookup(addresses),
          // a fresh connection each time: a pooled socket could outlive the address check
          agent: false,
        },
        (res) => {
          // the status decides, but the exchange ends only with the body (under the same deadline), or at the cap
          const answered: WebhookResponse = { outcome: 'answered', status: res.statusCode ?? 0 };
          let bytes = 0;
          res.on('data', (chunk: Buffer) => {
            bytes += chunk.length;
            if (bytes <= MAX_WEBHOOK_RESPONSE_BYTES) return;
            settle(answered);
            req.destroy();
          });
          res.on('end', () => settle(answered));
          res.on('error', (error: NodeJS.ErrnoException) => settle({ outcome: 'failed', reason: error.code ?? error.message }));
        },
      );
      // over the whole exchange: a receiver that sends its headers and never finishes its body is timed out too
      const timer = setTimeout(() => {
        settle({ outcome: 'timed-out' });
        req.destroy();
      }, timeoutMs);
      req.on('error', (error: NodeJS.ErrnoException) => settle({ outcome: 'failed', reason: error.code ?? error.message }));
      req.end(body);
    });
  }
}

/** A DNS lookup that answers only with the addresses the guard approved. */
function pinnedLookup(addresses: ResolvedAddress[]): LookupFunction {
  return (_hostname, options, callback) => {
    const family = typeof options === 'object' ? options.family : undefined;
    const wanted = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
    const usable = wanted.length > 0 ? wanted : addresses;
    if (typeof options === 'object' && options.all) {
      (callback as unknown as (err: null, addresses: ResolvedAddress[]) => void)(null, usable);
    } else {
      callback(null, usable[0].address, usable[0].family);
    }
  };
}
