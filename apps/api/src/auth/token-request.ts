import { TokenError } from './token-error';

/** A client-credentials grant request, as read from the body and the Authorization header. */
export interface TokenRequest {
  clientId: string;
  clientSecret: string;
  /** requested scopes, space-separated; all of the client's when absent */
  scope?: string;
}

export const CLIENT_CREDENTIALS = 'client_credentials';

/**
 * Reads RFC 6749 §4.4.2: `grant_type=client_credentials` (form or JSON body), the client authenticated by HTTP Basic
 * or by `client_id` + `client_secret` in the body (§2.3.1) — one method, not both.
 * @throws TokenError naming what is wrong
 */
export function readTokenRequest(body: unknown, authorization: string | undefined): TokenRequest {
  const fields = body === undefined || body === null ? {} : body;
  if (typeof fields !== 'object' || Array.isArray(fields)) {
    throw TokenError.invalidRequest('the body must be form-encoded (application/x-www-form-urlencoded) or a JSON object');
  }
  const field = (name: string): string | undefined => {
    const value = (fields as Record<string, unknown>)[name];
    if (value === undefined) return undefined;
    if (typeof value !== 'string') throw TokenError.invalidRequest(`${name} must be given once, as a string`);
    return value;
  };

  const grantType = field('grant_type');
  if (!grantType) throw TokenError.invalidRequest('grant_type is required');
  if (grantType !== CLIENT_CREDENTIALS) {
    throw TokenError.unsupportedGrantType(`grant_type ${grantType} is not supported: use client_credentials`);
  }

  const basic = basicCredentials(authorization);
  const bodyId = field('client_id');
  const bodySecret = field('client_secret');
  const scope = field('scope');
  if (basic) {
    if (bodySecret !== undefined || (bodyId !== undefined && bodyId !== basic.clientId)) {
      throw TokenError.invalidRequest('use one client authentication method: HTTP Basic or client_id and client_secret in the body, not both');
    }
    return { ...basic, scope };
  }
  if (!bodyId || !bodySecret) {
    throw TokenError.invalidClient('client authentication is required: HTTP Basic, or client_id and client_secret in the body');
  }
  return { clientId: bodyId, clientSecret: bodySecret, scope };
}

/** `Basic base64(client_id:client_secret)`; undefined when the header is absent or another scheme. */
function basicCredentials(authorization: string | undefined): { clientId: string; clientSecret: string } | undefined {
  const match = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(authorization ?? '');
  if (!match) {
    if (/^Basic\b/i.test(authorization ?? '')) throw TokenError.invalidClient('the Basic credentials are malformed');
    return undefined;
  }
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon <= 0 || colon === decoded.length - 1) throw TokenError.invalidClient('the Basic credentials must be client_id:client_secret');
  // RFC 6749 §2.3.1 form-encodes both parts first; our ids and secrets never need it, so only %-escapes are undone
  // and a literal '+' (common in hand-made secrets) is kept
  return { clientId: percentDecode(decoded.slice(0, colon)), clientSecret: percentDecode(decoded.slice(colon + 1)) };
}

function percentDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
