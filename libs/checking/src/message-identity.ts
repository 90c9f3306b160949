import { Logger } from '@nestjs/common';
import type { MessageProperties } from 'amqplib';
import { createHash, randomUUID } from 'node:crypto';

/** The header a correlation id travels in when the AMQP `correlation_id` property is not set. */
export const CORRELATION_ID_HEADER = 'x-correlation-id';
const MAX_ID_LENGTH = 200;

/** A header or property value as trimmed text (amqplib gives long strings as Buffers); undefined when empty. */
export function headerText(value: unknown, maxLength = MAX_ID_LENGTH): string | undefined {
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : typeof value === 'string' ? value : undefined;
  // PostgreSQL text cannot hold NUL, and an id longer than this is not an id
  const cleaned = text?.replaceAll('\u0000', '').trim().slice(0, maxLength);
  return cleaned ? cleaned : undefined;
}

type IdentityProperties = Pick<MessageProperties, 'correlationId' | 'messageId' | 'headers'>;

/**
 * The id that follows an execution from Caldera's message to its verdict: the AMQP correlation id, else the
 * `x-correlation-id` header, else the message id, else a new one.
 */
export function correlationIdOf(properties: IdentityProperties): string {
  return (
    headerText(properties.correlationId) ??
    headerText(properties.headers?.[CORRELATION_ID_HEADER]) ??
    headerText(properties.messageId) ??
    randomUUID()
  );
}

/**
 * What makes a redelivered execution recognisable: Caldera's link id, else the AMQP message id, else a hash of
 * the body. Prefixed by kind, so a message id can never collide with a link id.
 */
export function dedupeKeyOf(linkId: string | undefined, messageId: string | undefined, body: Buffer): string {
  const link = headerText(linkId);
  if (link) return `link:${link}`;
  const message = headerText(messageId);
  if (message) return `message:${message}`;
  return `sha256:${createHash('sha256').update(body).digest('hex')}`;
}

/**
 * Log lines about one message or execution, each carrying its correlation id as a field (`correlation_id`, as
 * the HTTP logs do), so one search finds the whole path from Caldera's result to the verdict.
 */
export class CorrelatedLog {
  constructor(
    private readonly logger: Logger,
    private readonly fields: Record<string, unknown>,
  ) {}

  static of(logger: Logger, correlationId: string, fields: Record<string, unknown> = {}): CorrelatedLog {
    return new CorrelatedLog(logger, { correlation_id: correlationId, ...fields });
  }

  with(fields: Record<string, unknown>): CorrelatedLog {
    return new CorrelatedLog(this.logger, { ...this.fields, ...fields });
  }

  log(msg: string, fields: Record<string, unknown> = {}): void {
    this.logger.log({ msg, ...this.fields, ...fields });
  }

  warn(msg: string, fields: Record<string, unknown> = {}): void {
    this.logger.warn({ msg, ...this.fields, ...fields });
  }

  error(msg: string, fields: Record<string, unknown> = {}): void {
    this.logger.error({ msg, ...this.fields, ...fields });
  }
}
