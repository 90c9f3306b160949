/**
 * Idempotent send: `POST /send` and `POST /notify` take an `Idempotency-Key` header (the WebSocket's send and notify
 * frames an `idempotency_key` field). A retry with the same key, by the same client, within the window answers the
 * first answer (the same `message_id`) and publishes nothing new.
 */
export const IDEMPOTENCY_KEY_HEADER = 'Idempotency-Key';
export const IDEMPOTENCY_KEY_FIELD = 'idempotency_key';

/** How long a key is remembered after its first use. */
export const IDEMPOTENCY_WINDOW_HOURS = 24;

/** Visible ASCII, 1 to 255 characters: a UUID or any other opaque token of the client's. */
export const IDEMPOTENCY_KEY_PATTERN = /^[\x21-\x7e]{1,255}$/;

export function isValidIdempotencyKey(key: unknown): key is string {
  return typeof key === 'string' && IDEMPOTENCY_KEY_PATTERN.test(key);
}

/**
 * Receivers never get one message_id twice within this window (GET /receive, the WebSocket): a copy that reaches
 * an inbox again (a router or api retry) is dropped before the client sees it.
 */
export const RECEIVE_DEDUPE_WINDOW_HOURS = 24;
