import { ClassConstructor, plainToInstance } from 'class-transformer';
import { ValidationError, ValidatorOptions, validateSync } from 'class-validator';

/**
 * How every contract is validated.
 * - whitelist off: unknown fields are kept, so newer producers can add fields without
 *   older consumers dead-lettering their messages.
 * - forbidUnknownValues off: nested plain values (e.g. free-form config) are not refused
 *   just because they are not class instances.
 * - stopAtFirstError: one message per field ("x is required", not also "x must be a string").
 */
export const VALIDATOR_OPTIONS: ValidatorOptions = {
  whitelist: false,
  forbidNonWhitelisted: false,
  forbidUnknownValues: false,
  skipMissingProperties: false,
  stopAtFirstError: true,
  validationError: { target: false, value: true },
};

export type ValidationResult<T> = { ok: true; value: T } | { ok: false; errors: string[] };

/** Thrown by {@link assertMessage}; `errors` are the same strings {@link validateMessage} returns. */
export class MessageValidationError extends Error {
  readonly errors: string[];

  constructor(errors: string[], what = 'message') {
    super(`invalid ${what}: ${errors.join('; ')}`);
    this.name = 'MessageValidationError';
    this.errors = errors;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/**
 * class-validator messages name only the property ("exit_code must be ..."); replace that name
 * with the full path ("result.exit_code must be ..."), or prefix the path when it is absent.
 */
function withPath(message: string, property: string, path: string): string {
  if (path === property) return message;
  const token = new RegExp(`(^|\\s)${escapeRegExp(property)}(?=$|[\\s.[])`);
  if (token.test(message)) return message.replace(token, (_match, lead: string) => `${lead}${path}`);
  return `${path}: ${message}`;
}

/**
 * Flattens class-validator errors into one string per problem, each naming the full field path:
 * `result.exit_code must be an integer number`, `detections[0].detection_type must be one of ...`.
 * Custom constraints may report several problems in one message, separated by newlines.
 */
export function formatValidationErrors(errors: ValidationError[], parentPath = '', parentIsArray = false): string[] {
  const out: string[] = [];
  for (const error of errors) {
    const property = error.property;
    const path = !parentPath ? property : parentIsArray ? `${parentPath}[${property}]` : `${parentPath}.${property}`;
    for (const [constraint, message] of Object.entries(error.constraints ?? {})) {
      if (constraint === 'nestedValidation') {
        // class-validator's own wording ("nested property x must be either object or array") is confusing.
        out.push(`${path} must be an object`);
        continue;
      }
      for (const line of message.split('\n')) out.push(withPath(line, property, path));
    }
    if (error.children?.length) {
      out.push(...formatValidationErrors(error.children, path, Array.isArray(error.value)));
    }
  }
  return out;
}

/**
 * The deepest nesting of objects and arrays a message or request body may have. class-transformer and
 * JSON.stringify recurse once per level, and a few thousand levels (a 40 kB body) overflow the stack: the
 * request would fail as a 500, and a consumer would throw instead of dead-lettering.
 */
export const MAX_JSON_DEPTH = 64;

/** Whether a parsed JSON value nests objects or arrays more than `max` levels deep; walks without recursion. */
export function jsonDepthExceeds(value: unknown, max = MAX_JSON_DEPTH): boolean {
  const stack: Array<[unknown, number]> = [[value, 0]];
  while (stack.length > 0) {
    const [current, depth] = stack.pop() as [unknown, number];
    if (typeof current !== 'object' || current === null) continue;
    if (depth + 1 > max) return true;
    for (const child of Object.values(current)) if (typeof child === 'object' && child !== null) stack.push([child, depth + 1]);
  }
  return false;
}

/**
 * Keys class-transformer cannot take: it reads an object's `constructor` as the class to build (a JSON object
 * holding one made it throw `targetType is not a constructor`, a 500), and `__proto__` would replace a prototype.
 */
export const UNREADABLE_KEYS = ['constructor', '__proto__'] as const;

/** The first key of UNREADABLE_KEYS found at any depth of a parsed JSON value (walked without recursion). */
export function unreadableKeyIn(value: unknown): string | undefined {
  const stack: unknown[] = [value];
  while (stack.length > 0) {
    const current = stack.pop();
    if (typeof current !== 'object' || current === null) continue;
    for (const key of UNREADABLE_KEYS) if (Object.prototype.hasOwnProperty.call(current, key)) return key;
    for (const child of Object.values(current)) if (typeof child === 'object' && child !== null) stack.push(child);
  }
  return undefined;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'an array';
  return `a ${typeof value}`;
}

/**
 * Validates a parsed JSON payload against a contract class.
 * On success `value` is an instance of `cls` (nested objects are instances too).
 */
export function validateMessage<T extends object>(cls: ClassConstructor<T>, payload: unknown): ValidationResult<T> {
  if (!isPlainObject(payload)) {
    return { ok: false, errors: [`payload must be a JSON object, got ${describe(payload)}`] };
  }
  if (jsonDepthExceeds(payload)) return { ok: false, errors: [`payload is nested deeper than ${MAX_JSON_DEPTH} levels`] };
  const key = unreadableKeyIn(payload);
  if (key) return { ok: false, errors: [`payload holds a key named ${key}, which cannot be read`] };
  let instance: T;
  let errors: string[];
  try {
    instance = plainToInstance(cls, payload, { enableImplicitConversion: false });
    errors = formatValidationErrors(validateSync(instance, VALIDATOR_OPTIONS));
  } catch (error) {
    // whatever else class-transformer or class-validator trip over is the payload's fault, never a crash
    return { ok: false, errors: [`payload cannot be read: ${(error as Error).message}`] };
  }
  return errors.length ? { ok: false, errors } : { ok: true, value: instance };
}

/**
 * Parses a message body (AMQP content, HTTP body) as JSON; broken JSON is reported as
 * `invalid JSON: <reason>` rather than thrown, so consumers can dead-letter it with the reason.
 */
export function parseJson(body: Buffer | Uint8Array | string): ValidationResult<unknown> {
  const text = typeof body === 'string' ? body : Buffer.from(body).toString('utf8');
  try {
    // A UTF-8 byte order mark is legal in files but JSON.parse refuses it.
    return { ok: true, value: JSON.parse(text.replace(/^\uFEFF/, '')) };
  } catch (error) {
    return { ok: false, errors: [`invalid JSON: ${(error as Error).message}`] };
  }
}

/** {@link parseJson} then {@link validateMessage}. */
export function parseJsonMessage<T extends object>(
  cls: ClassConstructor<T>,
  body: Buffer | Uint8Array | string,
): ValidationResult<T> {
  const parsed = parseJson(body);
  return parsed.ok ? validateMessage(cls, parsed.value) : parsed;
}

/** Like {@link validateMessage}, but returns the instance or throws {@link MessageValidationError}. */
export function assertMessage<T extends object>(cls: ClassConstructor<T>, payload: unknown): T {
  const result = validateMessage(cls, payload);
  if (!result.ok) throw new MessageValidationError(result.errors, cls.name);
  return result.value;
}
