import type { MessageProperties } from 'amqplib';
import { CORRELATION_ID_HEADER, headerText } from '../message-identity';

/** A dead-lettered message as it is kept in PostgreSQL for operators to list, fix and replay. */
export interface NewDeadLetter {
  /** the working queue the message left (not its dead-letter queue) */
  queue: string;
  reason: string;
  messageId: string | null;
  correlationId: string | null;
  routingKey: string | null;
  headers: Record<string, unknown>;
  body: Buffer;
}

/** The parts of an AMQP delivery a dead letter is made from. */
export interface DeadLetterDelivery {
  content: Buffer;
  /** `redelivered`: it may have been stored already, before an ack that was lost */
  fields: { routingKey: string; redelivered: boolean };
  properties: Pick<MessageProperties, 'headers' | 'messageId' | 'correlationId'>;
}

/** The reason header our consumers add (see @purple/messaging QueueConsumer). */
const REJECTION_REASON_HEADER = 'x-rejection-reason';
const MAX_REASON_LENGTH = 2000;

interface DeathEntry {
  queue?: unknown;
  reason?: unknown;
  'routing-keys'?: unknown;
}

/** What RabbitMQ's own `x-death` reasons mean, for an operator reading the list. */
const DEATH_REASONS: Record<string, string> = {
  rejected: 'rejected: a consumer rejected it without giving a reason',
  expired: 'expired: it waited in the queue longer than the message TTL',
  maxlen: 'maxlen: the queue was full',
  delivery_limit: 'delivery_limit: it was redelivered too many times',
};

/**
 * Reads where a dead letter came from and why: our consumers' `x-original-queue` / `x-rejection-reason`
 * headers, else the broker's latest `x-death` entry, else the name of the dead-letter queue it sits in.
 */
export function deadLetterOf(delivery: DeadLetterDelivery, deadLetterQueue: string): NewDeadLetter {
  const headers = delivery.properties.headers ?? {};
  const death = latestDeath(headers['x-death']);
  const deathQueue = headerText(death?.queue);
  const queue = headerText(headers['x-original-queue']) ?? deathQueue ?? deadLetterQueue.replace(/\.dlq$/, '');
  const deathReason = headerText(death?.reason);
  const reason =
    headerText(headers[REJECTION_REASON_HEADER], MAX_REASON_LENGTH) ??
    (deathReason ? `${DEATH_REASONS[deathReason] ?? deathReason} (${deathQueue ?? queue})` : undefined) ??
    'dead-lettered without a reason';
  const deathRoutingKeys = Array.isArray(death?.['routing-keys']) ? (death['routing-keys'] as unknown[]) : [];
  return {
    queue,
    reason,
    messageId: headerText(delivery.properties.messageId) ?? null,
    correlationId: headerText(delivery.properties.correlationId) ?? headerText(headers[CORRELATION_ID_HEADER]) ?? null,
    routingKey:
      headerText(headers['x-original-routing-key']) ?? headerText(deathRoutingKeys[0]) ?? headerText(delivery.fields.routingKey) ?? null,
    headers: jsonSafe(headers) as Record<string, unknown>,
    body: delivery.content,
  };
}

/** RabbitMQ puts the most recent death first. */
function latestDeath(value: unknown): DeathEntry | undefined {
  const first: unknown = Array.isArray(value) ? value[0] : undefined;
  return typeof first === 'object' && first !== null ? (first as DeathEntry) : undefined;
}

/**
 * AMQP header values as JSON that PostgreSQL's jsonb accepts: Buffers as text (or base64 when not UTF-8),
 * dates as ISO strings, big integers as strings, and no NUL characters anywhere.
 */
export function jsonSafe(value: unknown): unknown {
  if (value === null || typeof value === 'boolean') return value;
  if (typeof value === 'string') return value.replaceAll('\u0000', '');
  if (typeof value === 'number') return Number.isFinite(value) ? value : String(value);
  if (typeof value === 'bigint') return value.toString();
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? null : value.toISOString();
  if (Buffer.isBuffer(value)) {
    const text = value.toString('utf8');
    return Buffer.from(text, 'utf8').equals(value) && !text.includes('\u0000') ? text : { base64: value.toString('base64') };
  }
  if (Array.isArray(value)) return value.map(jsonSafe);
  if (typeof value === 'object') {
    return Object.fromEntries(
      Object.entries(value as Record<string, unknown>)
        .filter(([, v]) => v !== undefined)
        .map(([k, v]) => [k.replaceAll('\u0000', ''), jsonSafe(v)]),
    );
  }
  return value === undefined ? null : String(value);
}
