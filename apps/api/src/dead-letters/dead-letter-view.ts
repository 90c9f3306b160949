import { REJECTION_REASON_HEADER } from '@purple/messaging';
import type { Message } from 'amqplib';
import { DeadLetterDto } from './dead-letters.dto';

interface DeathRecord {
  reason?: unknown;
  queue?: unknown;
  time?: unknown;
  count?: unknown;
}

const text = (value: unknown): string | null => (typeof value === 'string' ? value : Buffer.isBuffer(value) ? value.toString('utf8') : null);

/** A dead-lettered message as the API lists it: why, from where, when, and its body. */
export function deadLetterView(message: Message): DeadLetterDto {
  const headers = message.properties.headers ?? {};
  const deaths = Array.isArray(headers['x-death']) ? (headers['x-death'] as DeathRecord[]) : [];
  const latest = deaths[0] ?? {};
  const time = latest.time as { value?: number } | number | undefined;
  const seconds = typeof time === 'number' ? time : typeof time?.value === 'number' ? time.value : undefined;
  let body: unknown;
  try {
    body = JSON.parse(message.content.toString('utf8'));
  } catch {
    body = message.content.toString('utf8');
  }
  return {
    message_id: text(message.properties.messageId) ?? (body as { message_id?: string } | null)?.message_id ?? null,
    reason: text(headers[REJECTION_REASON_HEADER]) ?? text(latest.reason),
    queue: text(headers['x-original-queue']) ?? text(latest.queue),
    dead_lettered_at: seconds === undefined ? null : new Date(seconds * 1000).toISOString(),
    count: deaths.reduce((sum, d) => sum + (typeof d.count === 'number' ? d.count : 0), 0),
    body,
  };
}
