import { plainToInstance, Transform } from 'class-transformer';
import { IsObject, IsOptional, ValidateNested } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { DETECTION_TYPES, DetectionType } from '../constants';
import {
  composeDecorators,
  customConstraint,
  IsRequired,
  IsRecordOf,
  JsonSchemaOverride,
  OptionalInt,
  OptionalObject,
  OptionalStringRecord,
  parseEmbeddedJson,
  RequiredOneOf,
  RequiredString,
} from '../decorators';

/*
 * The detections attached to an execution, in the two forms producers send:
 *
 * - the seed's nested map: `{ api: { <platform>: { query, platform } }, agent: { <platform>: { command, platform } } }`
 *   where the key (siem, edr, windows, linux) is the platform and the inner `platform`
 *   (splunk, crowdstrike, powershell, bash) is the connector that runs it;
 * - a patched Caldera's list: `[{ detection_type, detection_platform, detection_config, max_retries }]`.
 *
 * Both may carry extra settings (time window, delays, placeholders); see `normaliseExecution`.
 */

/** One SIEM/EDR query in the nested map. Extra keys are kept and treated as detection config. */
export class ApiDetectionSpec {
  /** The query text (a template; see DetectionConfig.placeholders). */
  @RequiredString()
  query: string;

  /** The connector that runs the query, e.g. `splunk`, `crowdstrike`. */
  @RequiredString()
  platform: string;

  /** Explicit detection settings; win over extra keys of the same name. */
  @OptionalObject()
  detection_config?: Record<string, unknown>;

  /** How many times the task may be retried after a timeout. */
  @OptionalInt(0)
  max_retries?: number;
}

/** One command to run on a host in the nested map. Extra keys are kept and treated as detection config. */
export class AgentDetectionSpec {
  /** The command to run (a template; see DetectionConfig.placeholders). */
  @RequiredString()
  command: string;

  /** The executor that runs the command, e.g. `powershell`, `bash`. */
  @RequiredString()
  platform: string;

  @OptionalObject()
  detection_config?: Record<string, unknown>;

  @OptionalInt(0)
  max_retries?: number;
}

/** The seed's nested map. Keys other than the detection types are refused by the field holding it. */
@JSONSchema({ additionalProperties: false })
export class DetectionsMap {
  @IsOptional()
  @IsRecordOf(() => ApiDetectionSpec, 'platform (e.g. siem, edr)')
  api?: Record<string, ApiDetectionSpec>;

  @IsOptional()
  @IsRecordOf(() => AgentDetectionSpec, 'platform (e.g. windows, linux)')
  agent?: Record<string, AgentDetectionSpec>;
}

function hasQueryText(config: unknown): boolean {
  if (typeof config !== 'object' || config === null) return false;
  const { query, command } = config as Record<string, unknown>;
  return (typeof query === 'string' && query !== '') || (typeof command === 'string' && command !== '');
}

function DetectionConfigField(): PropertyDecorator {
  return composeDecorators(
    IsRequired(),
    IsObject(),
    customConstraint('hasDetectionQuery', hasQueryText, '$property must contain a non-empty string query (or command)'),
    JsonSchemaOverride({
      type: 'object',
      anyOf: [{ required: ['query'] }, { required: ['command'] }],
      properties: { query: { type: 'string' }, command: { type: 'string' }, connector: { type: 'string' } },
    }),
  );
}

/**
 * One entry of a patched Caldera's detection list.
 * `detection_config` must hold the query text as `query` (or `command`); it may name the connector
 * as `connector` (or `platform`), else `detection_platform` is taken as the connector too.
 * Its other keys are detection settings.
 */
export class DetectionListEntry {
  @RequiredOneOf(DETECTION_TYPES)
  detection_type: DetectionType;

  /** The platform, e.g. `siem`, `edr`, `windows`, `linux` (or a connector name such as `splunk`). */
  @RequiredString()
  detection_platform: string;

  /** Holds the query text and the detection settings; see the class comment. */
  @DetectionConfigField()
  detection_config: Record<string, unknown>;

  @OptionalInt(0)
  max_retries?: number;
}

/** Detection settings a task carries (DESIGN "Detection semantics"); all optional, extra keys kept. */
export class DetectionConfig {
  /** Search from this many seconds before the execution time. */
  @OptionalInt(0)
  window_before_seconds?: number;

  /** Keep searching until this many seconds after the execution time, then answer not detected. */
  @OptionalInt(0)
  window_after_seconds?: number;

  /** Wait this long after the execution before the first search (SIEMs ingest late). */
  @OptionalInt(0)
  initial_delay_seconds?: number;

  /** Search again every this many seconds until a match or the window ends. */
  @OptionalInt(1)
  retry_interval_seconds?: number;

  /** Values for the query template's placeholders, e.g. `{ host, user, marker }`. */
  @OptionalStringRecord()
  placeholders?: Record<string, string>;
}

/** The `detections` field, as either form. */
export type Detections = DetectionsMap | DetectionListEntry[];

function toDetections(raw: unknown, allowList: boolean): unknown {
  const value = allowList ? parseEmbeddedJson(raw) : raw;
  if (Array.isArray(value)) {
    if (!allowList) return value;
    return value.map((entry) =>
      typeof entry === 'object' && entry !== null && !Array.isArray(entry)
        ? plainToInstance(DetectionListEntry, entry)
        : entry,
    );
  }
  if (typeof value === 'object' && value !== null) return plainToInstance(DetectionsMap, value);
  return value;
}

/**
 * The `detections` field: optional; the nested map, or (with `allowList`) also the list form or
 * either of them as a JSON string. Unknown detection types are refused with the field's path.
 */
export function DetectionsField(options: { allowList: boolean }): PropertyDecorator {
  const shape = options.allowList
    ? `an object keyed by detection type (${DETECTION_TYPES.join(', ')}) or a list of detections`
    : `an object keyed by detection type (${DETECTION_TYPES.join(', ')})`;
  const known: readonly string[] = DETECTION_TYPES;
  const unknownKeys = (value: object) =>
    Array.isArray(value) ? [] : Object.keys(value).filter((key) => !known.includes(key));
  const isShape = (value: unknown): value is object =>
    typeof value === 'object' && value !== null && (options.allowList || !Array.isArray(value));

  return composeDecorators(
    IsOptional(),
    Transform(({ obj, key }) => toDetections(obj[key], options.allowList), { toClassOnly: true }),
    customConstraint(
      'isDetections',
      (value) => isShape(value) && unknownKeys(value).length === 0,
      ({ property, value }) =>
        isShape(value)
          ? unknownKeys(value)
              .map((key) => `${property}.${key} is not a detection type; expected one of: ${known.join(', ')}`)
              .join('\n')
          : `${property} must be ${shape}`,
    ),
    ValidateNested(),
    JsonSchemaOverride(
      options.allowList
        ? {
            oneOf: [
              { $ref: '#/definitions/DetectionsMap' },
              { type: 'array', items: { $ref: '#/definitions/DetectionListEntry' } },
              { type: 'string', description: 'either form as a JSON string' },
            ],
          }
        : { $ref: '#/definitions/DetectionsMap' },
    ),
  );
}
