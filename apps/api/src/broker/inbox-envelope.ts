import { BusEnvelope, parseJsonMessage } from '@purple/contracts';

/** A message as clients receive it (HTTP, WebSocket): exactly the envelope's fields. */
export type DeliveredEnvelope = Pick<BusEnvelope, 'message_id' | 'topic' | 'sender' | 'sent_at' | 'message'>;

export type EnvelopeResult = { ok: true; envelope: DeliveredEnvelope } | { ok: false; reason: string };

/** Reads an inbox message (the bus-router's envelope), validated with the contract. */
export function readEnvelope(content: Buffer): EnvelopeResult {
  const parsed = parseJsonMessage(BusEnvelope, content);
  if (!parsed.ok) return { ok: false, reason: parsed.errors.join('; ') };
  const { message_id, topic, sender, sent_at, message } = parsed.value;
  return { ok: true, envelope: { message_id, topic, sender, sent_at, message } };
}
