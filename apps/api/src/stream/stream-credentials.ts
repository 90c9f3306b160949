import type { IncomingMessage } from 'node:http';
import { BearerCredentials, bearerCredentials } from '@purple/auth';

/** The subprotocol a browser offers, with the token as the next one: `new WebSocket(url, ['bearer', token])`. */
export const BEARER_SUBPROTOCOL = 'bearer';

/**
 * The token of a WebSocket handshake: `Authorization: Bearer <token>`, or, for browsers (which cannot set headers
 * on a WebSocket), `Sec-WebSocket-Protocol: bearer, <token>`. Never the query string.
 */
export function streamCredentials(req: IncomingMessage): BearerCredentials {
  const fromHeader = bearerCredentials(req.headers.authorization);
  if (fromHeader.kind !== 'none') return fromHeader;
  const offered = (req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
  const index = offered.findIndex((p) => p.toLowerCase() === BEARER_SUBPROTOCOL);
  if (index < 0) return { kind: 'none' };
  const token = offered[index + 1];
  return token ? { kind: 'token', token } : { kind: 'malformed', reason: 'Sec-WebSocket-Protocol must be "bearer, <token>"' };
}
