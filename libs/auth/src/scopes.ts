/**
 * What a token allows. `admin`: the client registry. `bus`: send, notify, receive and stream as the client itself.
 * `checking:read`: the checking engine's results. `checking:admin`: the checking engine's operator actions
 * (redispatch a task, replay a dead letter, edit a dead letter's body), kept apart from the bus `admin` because a
 * replayed message can make agents run commands; only a caller holding it may grant it.
 */
export const SCOPES = ['admin', 'bus', 'checking:read', 'checking:admin'] as const;
export type Scope = (typeof SCOPES)[number];

export const isScope = (value: unknown): value is Scope => typeof value === 'string' && (SCOPES as readonly string[]).includes(value);

/** `"admin checking:read"` → `['admin', 'checking:read']`; unknown words are dropped, duplicates removed, order fixed. */
export function parseScopes(text: string | null | undefined): Scope[] {
  const words = new Set((text ?? '').split(/\s+/).filter(Boolean));
  return SCOPES.filter((scope) => words.has(scope));
}

/** The space-separated form OAuth2 and the database use (RFC 6749 §3.3). */
export const formatScopes = (scopes: readonly Scope[]): string => SCOPES.filter((s) => scopes.includes(s)).join(' ');
