import 'reflect-metadata';
import { ClassConstructor, plainToInstance, Transform, Type } from 'class-transformer';
import {
  IsBoolean,
  IsDefined,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsNumber,
  IsObject,
  IsOptional,
  IsString,
  Max,
  Min,
  registerDecorator,
  ValidateNested,
  ValidationArguments,
  validateSync,
} from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { formatValidationErrors, VALIDATOR_OPTIONS } from './validation';

/*
 * Property decorators the contracts are written with. Each `Required*` includes `IsDefined`, so a
 * missing or null field is reported as "<field> is required" (VALIDATOR_OPTIONS.stopAtFirstError
 * keeps it to that one message); each `Optional*` accepts undefined and null.
 * Within a composite the checks run in the order listed (type before range, and so on); stacked
 * `@` decorators would apply bottom-up, which is why composites are used instead.
 */

type SchemaObject = Record<string, unknown>;

/** Applies decorators in the order given (stacked `@` decorators apply bottom-up). */
export function composeDecorators(...decorators: PropertyDecorator[]): PropertyDecorator {
  return (target, key) => decorators.forEach((decorator) => decorator(target, key));
}
const all = composeDecorators;

/** The field must be present and not null; reported as "<field> is required". */
export const IsRequired = () => IsDefined({ message: '$property is required' });

/**
 * Sets a property's JSON Schema outright, for what the generator cannot infer (unions, records,
 * custom checks). A function is evaluated when schemas are generated, so it may name classes
 * declared later.
 */
export function JsonSchemaOverride(replacement: SchemaObject | (() => SchemaObject)): PropertyDecorator {
  const decorate = JSONSchema((generated) => {
    // Keep what other decorators contributed (e.g. IsDefined's "not null"), drop the wrong guesses.
    const { $ref: _ref, type: _type, ...kept } = generated as SchemaObject;
    return { ...kept, ...(typeof replacement === 'function' ? replacement() : replacement) };
  });
  return (target, key) => decorate(target, key as string);
}

export const RequiredString = () => all(IsRequired(), IsString(), IsNotEmpty());
export const OptionalString = () => all(IsOptional(), IsString());
/** A string that must be present but may be empty (stdout, stderr). */
export const RequiredText = () => all(IsRequired(), IsString());

export function RequiredInt(min?: number, max?: number): PropertyDecorator {
  return all(IsRequired(), IsInt(), ...bounds(min, max));
}
export function OptionalInt(min?: number, max?: number): PropertyDecorator {
  return all(IsOptional(), IsInt(), ...bounds(min, max));
}
export function RequiredNumber(min?: number, max?: number): PropertyDecorator {
  return all(IsRequired(), IsNumber({ allowNaN: false, allowInfinity: false }), ...bounds(min, max));
}
function bounds(min?: number, max?: number): PropertyDecorator[] {
  return [...(min === undefined ? [] : [Min(min)]), ...(max === undefined ? [] : [Max(max)])];
}

export const RequiredBoolean = () => all(IsRequired(), IsBoolean());

export const RequiredOneOf = (values: readonly unknown[]) => all(IsRequired(), IsIn([...values]));
export const OptionalOneOf = (values: readonly unknown[]) => all(IsOptional(), IsIn([...values]));

export const RequiredNested = (cls: () => ClassConstructor<object>) =>
  all(IsRequired(), IsObject(), ValidateNested(), Type(cls));
export const OptionalNested = (cls: () => ClassConstructor<object>) =>
  all(IsOptional(), IsObject(), ValidateNested(), Type(cls));

/** An optional list of objects, each validated as `cls`. */
export function OptionalNestedList(cls: () => ClassConstructor<object>): PropertyDecorator {
  return all(
    IsOptional(),
    customIsArray(),
    ValidateNested({ each: true }),
    Type(cls),
    JsonSchemaOverride(() => ({ type: 'array', items: { $ref: `#/definitions/${cls().name}` } })),
  );
}
function customIsArray(): PropertyDecorator {
  return customConstraint('isList', (value) => Array.isArray(value), '$property must be a list');
}

/** A free-form JSON object (not an array). */
export const OptionalObject = () => all(IsOptional(), IsObject());

/**
 * Registers a one-off constraint. `message` may be a function of the value, and may return several
 * problems separated by newlines (see formatValidationErrors).
 */
export function customConstraint(
  name: string,
  validate: (value: unknown, args: ValidationArguments) => boolean,
  message: string | ((args: ValidationArguments) => string),
): PropertyDecorator {
  return (target, propertyName) =>
    registerDecorator({
      name,
      target: target.constructor,
      propertyName: propertyName as string,
      validator: { validate, defaultMessage: typeof message === 'string' ? () => message : message },
    });
}

// ---------------------------------------------------------------------------------------------
// Timestamps

/**
 * ISO-8601 date-time: a calendar date, `T` (or a space), hours and minutes, optional seconds and
 * fraction, optional offset. Without an offset the time is taken as UTC (Python's
 * `datetime.utcnow().isoformat()` omits it). Date-only and week/ordinal forms are refused: they
 * are not instants.
 */
export const ISO_DATE_TIME_PATTERN =
  /^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(?::\d{2}(?:[.,]\d+)?)?(?:Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Parses a string accepted by {@link ISO_DATE_TIME_PATTERN}; `undefined` when it is not one. */
export function parseIsoDateTime(value: unknown): Date | undefined {
  if (typeof value !== 'string' || !ISO_DATE_TIME_PATTERN.test(value)) return undefined;
  let text = value.replace(' ', 'T').replace(',', '.');
  if (!/(?:Z|z|[+-]\d{2}(?::?\d{2})?)$/.test(text.slice(10))) text += 'Z';
  // JS only understands "+hh:mm" offsets; normalise "+hh" and "+hhmm".
  text = text.replace(/([+-]\d{2})(\d{2})?$/, (_m, h: string, m?: string) => `${h}:${m ?? '00'}`);
  const date = new Date(text);
  if (Number.isNaN(date.getTime())) return undefined;
  // Date rolls "2024-02-31" over to March; refuse dates that do not exist instead.
  const [year, month, day] = value.slice(0, 10).split('-').map(Number);
  const probe = new Date(Date.UTC(year, month - 1, day));
  if (probe.getUTCFullYear() !== year || probe.getUTCMonth() !== month - 1 || probe.getUTCDate() !== day) {
    return undefined;
  }
  return date;
}

const isoDateTime = () =>
  all(
    customConstraint(
      'isIsoDateTime',
      (value) => parseIsoDateTime(value) !== undefined,
      '$property must be an ISO-8601 date-time',
    ),
    JsonSchemaOverride({
      type: 'string',
      pattern: ISO_DATE_TIME_PATTERN.source,
      description: 'ISO-8601 date-time; UTC when no offset',
    }),
  );
export const RequiredDateTime = () => all(IsRequired(), isoDateTime());
export const OptionalDateTime = () => all(IsOptional(), isoDateTime());

// ---------------------------------------------------------------------------------------------
// Records (objects keyed by a free name, e.g. platform → detection)

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Turns each plain-object value of a record into an instance of `cls`; leaves anything else alone. */
function toRecordOfInstances(cls: ClassConstructor<object>, raw: unknown): unknown {
  if (!isPlainObject(raw)) return raw;
  return Object.fromEntries(
    Object.entries(raw).map(([key, entry]) => [key, isPlainObject(entry) ? plainToInstance(cls, entry) : entry]),
  );
}

/** Problems with each entry of a record, as paths relative to the record ("siem.query is required"). */
function recordEntryErrors(record: Record<string, unknown>): string[] {
  const errors: string[] = [];
  for (const [key, entry] of Object.entries(record)) {
    if (key.trim() === '') errors.push(`"${key}" is not a valid key: keys must not be empty`);
    else if (!isPlainObject(entry)) errors.push(`${key} must be an object`);
    else errors.push(...formatValidationErrors(validateSync(entry, VALIDATOR_OPTIONS), key));
  }
  return errors;
}

/**
 * An object whose keys are free names and whose values are each validated as `cls`. class-validator
 * only descends into arrays, Sets and Maps, so the entries are validated here and reported with
 * their full paths (`api.siem.query is required`).
 */
export function IsRecordOf(cls: () => ClassConstructor<object>, keyDescription: string): PropertyDecorator {
  return all(
    Transform(({ obj, key }) => toRecordOfInstances(cls(), obj[key]), { toClassOnly: true }),
    customConstraint(
      'isRecordOf',
      (value) => isPlainObject(value) && recordEntryErrors(value).length === 0,
      ({ property, value }) =>
        isPlainObject(value)
          ? recordEntryErrors(value)
              .map((error) => `${property}.${error}`)
              .join('\n')
          : `${property} must be an object keyed by ${keyDescription}`,
    ),
    JsonSchemaOverride(() => ({
      type: 'object',
      description: `keyed by ${keyDescription}`,
      additionalProperties: { $ref: `#/definitions/${cls().name}` },
    })),
  );
}

/** An object of string values (e.g. query placeholders). */
export function OptionalStringRecord(): PropertyDecorator {
  const badKeys = (value: Record<string, unknown>) => Object.keys(value).filter((k) => typeof value[k] !== 'string');
  return all(
    IsOptional(),
    customConstraint(
      'isStringRecord',
      (value) => isPlainObject(value) && badKeys(value).length === 0,
      ({ property, value }) =>
        isPlainObject(value)
          ? badKeys(value)
              .map((key) => `${property}.${key} must be a string`)
              .join('\n')
          : `${property} must be an object of strings`,
    ),
    JsonSchemaOverride({ type: 'object', additionalProperties: { type: 'string' } }),
  );
}

/**
 * Parses a JSON string into an object when it holds one, because producers written in Python
 * often `json.dumps` nested fields. Anything else is returned unchanged.
 */
export function parseEmbeddedJson(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const text = raw.trim();
  if (!text.startsWith('{') && !text.startsWith('[')) return raw;
  try {
    return JSON.parse(text);
  } catch {
    return raw;
  }
}
