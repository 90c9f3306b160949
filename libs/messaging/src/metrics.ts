import { counter, histogram } from '@purple/platform';

export const messagesConsumed = counter('purple_messages_consumed_total', 'Messages delivered to a handler', ['queue']);
export const messagesAcked = counter('purple_messages_acked_total', 'Messages handled and acknowledged', ['queue']);
export const messagesNacked = counter('purple_messages_nacked_total', 'Messages a handler refused (then dead-lettered)', ['queue']);
export const messagesDeadLettered = counter('purple_messages_dead_lettered_total', 'Messages sent to a dead-letter queue by the app', [
  'queue',
  'reason',
]);
export const messagesPublished = counter('purple_messages_published_total', 'Messages published and confirmed by the broker', [
  'exchange',
  'routing_key',
]);
export const handlerDuration = histogram('purple_message_handler_duration_seconds', 'Time a handler takes per message', ['queue'], [
  0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
]);

/** A bounded label for why a message was dead-lettered: the first words of the reason, without values. */
export function reasonCategory(reason: string): string {
  if (/invalid JSON/i.test(reason)) return 'invalid_json';
  if (/too large|exceeds/i.test(reason)) return 'too_large';
  if (/must be|should|is required|is not|expected/i.test(reason)) return 'invalid_message';
  if (/unknown/i.test(reason)) return 'unknown_reference';
  return 'processing_error';
}
