import {
  BusEnvelope,
  CLIENT_ID_PATTERN,
  isValidClientId,
  isValidSubscription,
  isValidTopic,
  SendRequest,
  subscriptionMatches,
  TOPIC_MAX_LENGTH,
  TOPIC_PATTERN,
  validateMessage,
} from './index';
import { busEnvelope } from './fixtures/seed-examples';

describe('topics', () => {
  it.each(['soar', 'soar.noc.slocum.something', 'project.operator.glider.unit_345.send.status', 'a-b.c:d.e'])(
    'accepts %p',
    (topic) => {
      expect(isValidTopic(topic)).toBe(true);
      expect(TOPIC_PATTERN.test(topic)).toBe(true);
    },
  );

  it.each([
    ['a wildcard *', 'soar.*.status'],
    ['a wildcard #', 'soar.noc.#'],
    ['* inside a word', 'soar.n*c'],
    ['# inside a word', 'soar.n#c'],
    ['an empty word in the middle', 'soar..status'],
    ['a leading dot', '.soar'],
    ['a trailing dot', 'soar.'],
    ['the empty topic', ''],
    ['a space', 'soar.noc status'],
    ['a non-string', 42],
  ])('refuses %s', (_why, topic) => {
    expect(isValidTopic(topic)).toBe(false);
  });

  it('refuses topics over 255 bytes', () => {
    const words = (length: number) => `${'a'.repeat(length - 2)}.b`;
    expect(isValidTopic(words(TOPIC_MAX_LENGTH))).toBe(true);
    expect(isValidTopic(words(TOPIC_MAX_LENGTH + 1))).toBe(false);
    // The broker counts bytes: 128 two-byte characters are 256 bytes.
    expect(isValidTopic('é'.repeat(128))).toBe(false);
  });

  it('accepts wildcards only in subscriptions, as whole words', () => {
    expect(isValidSubscription('soar.*.slocum.#')).toBe(true);
    expect(isValidSubscription('#')).toBe(true);
    expect(isValidSubscription('soar.n*c')).toBe(false);
    expect(isValidSubscription('soar..#')).toBe(false);
  });
});

describe('client ids', () => {
  it.each(['noc-c2', 'a', '0', 'x'.repeat(63)])('accepts %p', (id) => {
    expect(isValidClientId(id)).toBe(true);
    expect(CLIENT_ID_PATTERN.test(id)).toBe(true);
  });

  it.each(['', 'NOC', '-noc', 'noc-', 'noc_c2', 'noc.c2', 'x'.repeat(64)])('refuses %p', (id) => {
    expect(isValidClientId(id)).toBe(false);
  });
});

describe('BusEnvelope', () => {
  it.each([null, 0, 'text', [1, 2], { nested: { deep: true } }])('carries any JSON value as message (%p)', (message) => {
    expect(validateMessage(BusEnvelope, { ...busEnvelope(), message }).ok).toBe(true);
  });

  it.each([
    ['topic', 'soar.*', 'topic must be a topic'],
    ['topic', 'soar..noc', 'topic must be a topic'],
    ['topic', `${'a'.repeat(256)}`, 'topic must be a topic'],
    ['sender', 'NOC C2', 'sender must be a client id'],
    ['message_id', 'not-a-uuid', 'message_id must be a UUID'],
    ['sent_at', '15/01/2024', 'sent_at must be an ISO-8601 date-time'],
  ])('refuses %s = %p', (field, value, message) => {
    const result = validateMessage(BusEnvelope, { ...busEnvelope(), [field]: value });
    expect(!result.ok && result.errors).toEqual([expect.stringContaining(message)]);
  });

  it('refuses a wildcard topic in a send request', () => {
    expect(validateMessage(SendRequest, { topic: 'soar.#', message: {} })).toEqual({
      ok: false,
      errors: [expect.stringMatching(/^topic must be a topic: /)],
    });
  });
});

describe('subscriptionMatches (RabbitMQ topic semantics)', () => {
  it.each([
    ['soar.#', 'soar', true],
    ['soar.#', 'soar.noc.slocum.x', true],
    ['#', 'anything.at.all', true],
    ['soar.*', 'soar.noc', true],
    ['soar.*', 'soar', false],
    ['soar.*', 'soar.noc.x', false],
    ['soar.noc.slocum.*', 'soar.noc.slocum.something', true],
    ['soar.noc.#', 'soar.other.x', false],
    ['#.x', 'a.b.x', true],
    ['#.x', 'x', true],
    ['a.#.z', 'a.z', true],
    ['a.#.z', 'a.b.c.z', true],
    ['a.#.z', 'a.b.c', false],
    ['*.#.*', 'a', false],
    ['*.#.*', 'a.b', true],
    ['soar.noc', 'soar.noc', true],
    ['soar.noc', 'soar.nocx', false],
    ['broadcast', 'broadcast', true],
  ])('%s against %s: %s', (pattern, topic, expected) => {
    expect(subscriptionMatches(pattern, topic)).toBe(expected);
  });
});
