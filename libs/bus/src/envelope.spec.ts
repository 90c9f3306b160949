import { BusEnvelope, validateMessage } from '@purple/contracts';
import { BROADCAST_TOPIC, buildEnvelope, envelopeMessageId } from './envelope';

describe('envelopes', () => {
  it('keeps a UUID message id and replaces anything else with a new UUID', () => {
    const id = '1b4e28ba-2fa1-41d2-883f-0016d3cca427';
    expect(envelopeMessageId(id)).toBe(id);
    expect(envelopeMessageId(id.toUpperCase())).toBe(id);
    const generated = envelopeMessageId('not-a-uuid');
    expect(generated).toMatch(/^[0-9a-f-]{36}$/);
    expect(envelopeMessageId(undefined)).not.toBe(generated);
  });

  it('builds envelopes that satisfy the BusEnvelope contract, broadcasts included', () => {
    const now = new Date('2025-03-01T12:00:00.000Z');
    const sent = buildEnvelope({ messageId: envelopeMessageId(undefined), topic: 'soar.noc.slocum.x', sender: 'noc-c2', message: { a: 1 }, now });
    expect(sent.sent_at).toBe('2025-03-01T12:00:00.000Z');
    expect(validateMessage(BusEnvelope, sent)).toMatchObject({ ok: true });
    const broadcast = buildEnvelope({ messageId: envelopeMessageId(undefined), topic: BROADCAST_TOPIC, sender: 'noc-c2', message: null });
    expect(validateMessage(BusEnvelope, broadcast)).toMatchObject({ ok: true });
  });
});
