import { randomUUID } from 'node:crypto';
import type { BusEnvelope } from '@purple/contracts';

/**
 * The topic a broadcast (`/notify`) envelope carries: a notify has no topic of its own, and receivers need one to
 * tell it apart. A plain word, so it is a valid topic and cannot collide with the dotted
 * `project.operator.vehicleType.vehicleID.[send|receive].messageType` topics of sent messages.
 */
export const BROADCAST_TOPIC = 'broadcast';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * The envelope's id: the AMQP message id the api gave the message (so a redelivered message keeps its id and
 * receivers can dedupe), or a new UUID when the publisher gave none or something that is not a UUID.
 */
export function envelopeMessageId(amqpMessageId: unknown): string {
  return typeof amqpMessageId === 'string' && UUID.test(amqpMessageId) ? amqpMessageId.toLowerCase() : randomUUID();
}

export interface EnvelopeInput {
  messageId: string;
  topic: string;
  /** the owner of the queue the message came from, never a name taken from the message body */
  sender: string;
  message: unknown;
  now?: Date;
}

/** A message as the bus delivers it to inboxes (HTTP receive, WebSocket, webhook). */
export function buildEnvelope(input: EnvelopeInput): BusEnvelope {
  return {
    message_id: input.messageId,
    topic: input.topic,
    sender: input.sender,
    sent_at: (input.now ?? new Date()).toISOString(),
    message: input.message,
  };
}
