import {
  assertMessage,
  DetectionTaskMessage,
  ExecutionResultMessage,
  MessageValidationError,
  MAX_JSON_DEPTH,
  NotifyRequest,
  SendRequest,
  jsonDepthExceeds,
  parseJsonMessage,
  validateMessage,
} from './index';
import { seedDetectionTask, SEED_EXECUTION_RESULT_TEXT } from './fixtures/seed-examples';

describe('validateMessage', () => {
  it.each([
    [null, 'null'],
    ['text', 'a string'],
    [42, 'a number'],
    [[], 'an array'],
    [undefined, 'undefined'],
  ])('refuses a payload that is not an object (%p)', (payload, described) => {
    expect(validateMessage(ExecutionResultMessage, payload)).toEqual({
      ok: false,
      errors: [`payload must be a JSON object, got ${described}`],
    });
  });

  it('returns instances for nested objects too', () => {
    const result = validateMessage(DetectionTaskMessage, seedDetectionTask());
    expect(result.ok && result.value.metadata.execution_context.constructor.name).toBe('ExecutionContext');
  });

  it('does not convert types implicitly', () => {
    const task = { ...seedDetectionTask(), query: { type: 't', content: 'c', timeout_seconds: '30' } };
    expect(validateMessage(DetectionTaskMessage, task)).toEqual({
      ok: false,
      errors: ['query.timeout_seconds must be an integer number'],
    });
  });
});

describe('parseJsonMessage', () => {
  it('parses and validates a Buffer', () => {
    const result = parseJsonMessage(ExecutionResultMessage, Buffer.from(SEED_EXECUTION_RESULT_TEXT));
    expect(result.ok).toBe(true);
  });

  it('accepts a UTF-8 byte order mark', () => {
    expect(parseJsonMessage(ExecutionResultMessage, `\uFEFF${SEED_EXECUTION_RESULT_TEXT}`).ok).toBe(true);
  });

  it.each(['{"operation_id": ', '', 'not json', "{'single': 'quotes'}"])('reports broken JSON %p', (body) => {
    const result = parseJsonMessage(ExecutionResultMessage, body);
    expect(result.ok).toBe(false);
    expect(!result.ok && result.errors).toEqual([expect.stringMatching(/^invalid JSON: .+/)]);
  });

  it('reports valid JSON of the wrong shape as validation errors', () => {
    expect(parseJsonMessage(ExecutionResultMessage, '[1, 2]')).toEqual({
      ok: false,
      errors: ['payload must be a JSON object, got an array'],
    });
  });
});

describe('assertMessage', () => {
  it('returns the instance', () => {
    expect(assertMessage(DetectionTaskMessage, seedDetectionTask())).toBeInstanceOf(DetectionTaskMessage);
  });

  it('throws MessageValidationError with the errors', () => {
    let thrown: unknown;
    try {
      assertMessage(DetectionTaskMessage, { ...seedDetectionTask(), task_id: '' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(MessageValidationError);
    expect((thrown as MessageValidationError).errors).toEqual(['task_id should not be empty']);
    expect((thrown as Error).message).toBe('invalid DetectionTaskMessage: task_id should not be empty');
  });
});

describe('deeply nested JSON (20,000 nested arrays overflowed class-transformer and JSON.stringify: a 500 or a throwing consumer)', () => {
  const nested = (depth: number): unknown => {
    let value: unknown = 'deep';
    for (let i = 0; i < depth; i++) value = i % 2 ? { a: value } : [value];
    return value;
  };

  it('measures depth without recursion, objects and arrays alike', () => {
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH))).toBe(false);
    expect(jsonDepthExceeds(nested(MAX_JSON_DEPTH + 1))).toBe(true);
    expect(jsonDepthExceeds(nested(1_000_000))).toBe(true);
    expect(jsonDepthExceeds('text')).toBe(false);
  });

  it('refuses a message nested deeper than MAX_JSON_DEPTH with a reason, instead of throwing', () => {
    expect(validateMessage(NotifyRequest, { message: nested(MAX_JSON_DEPTH - 1) }).ok).toBe(true);
    expect(validateMessage(NotifyRequest, { message: nested(20_000) })).toEqual({ ok: false, errors: [`payload is nested deeper than ${MAX_JSON_DEPTH} levels`] });
    expect(parseJsonMessage(NotifyRequest, `{"message":${'['.repeat(20_000)}${']'.repeat(20_000)}}`).ok).toBe(false);
  });
});

describe('keys class-transformer cannot read (the security suite: POST /send with topic {"constructor":…} answered 500)', () => {
  it('refuses a payload holding a key named constructor or __proto__, at any depth, instead of throwing', () => {
    expect(validateMessage(SendRequest, { topic: { constructor: { prototype: { admin: true } } }, message: 1 })).toEqual({
      ok: false,
      errors: ['payload holds a key named constructor, which cannot be read'],
    });
    expect(parseJsonMessage(SendRequest, '{"topic":"a.b","message":{"list":[{"__proto__":{"admin":true}}]}}')).toEqual({
      ok: false,
      errors: ['payload holds a key named __proto__, which cannot be read'],
    });
    expect(validateMessage(SendRequest, { topic: 'a.b', message: { constructors: 1 } }).ok).toBe(true);
  });
});
