import { Transform } from 'class-transformer';
import { IsObject, IsOptional } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { PRODUCER_DETECTION_TYPES, ProducerDetectionType } from '../constants';
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
import { parsePythonLiteral } from '../python-literal';

/*
 * The detections attached to an execution, in the two forms producers send:
 *
 * - the seed's nested map: `{ api: { <platform>: { query, platform } }, agent: { <platform>: { command, platform } } }`
 *   where the key (siem, edr, windows, linux) is the platform and the inner `platform`
 *   (splunk, crowdstrike, powershell, bash) is the connector that runs it;
 * - a patched Caldera's list: `[{ detection_type, detection_platform, detection_config, max_retries }]`, where
 *   `detection_type` is `api`, `agent` or the host OS (`windows`, `linux`, `darwin`) and `detection_platform` is the
 *   product (api) or Caldera's executor name (psh, pwsh, cmd, sh, bash, zsh, proc, powershell).
 *
 * Either may arrive as text: JSON, or Python's str() of it (Caldera's `additional_info`). The messages carrying them
 * do not validate them as a whole: each entry is read on its own (`readDetections`, normalise-detections.ts), so that
 * one unusable entry becomes a rejected task and never costs the execution.
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
  @OptionalInt(0, 100)
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

  @OptionalInt(0, 100)
  max_retries?: number;
}

/** The seed's nested map (for the JSON Schema; entries are read one by one). */
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
  return (typeof query === 'string' && query.trim() !== '') || (typeof command === 'string' && command.trim() !== '');
}

function DetectionConfigField(): PropertyDecorator {
  return composeDecorators(
    IsRequired(),
    Transform(({ obj, key }) => parseEmbeddedJson(obj[key]), { toClassOnly: true }),
    IsObject(),
    customConstraint('hasDetectionQuery', hasQueryText, '$property must contain a non-empty string command (or query)'),
    JsonSchemaOverride({
      type: 'object',
      anyOf: [{ required: ['query'] }, { required: ['command'] }],
      properties: {
        command: { type: 'string' },
        query: { type: 'string' },
        connector: { type: 'string' },
        timeout: { type: 'number', description: 'per-attempt timeout, seconds' },
        delay: { type: 'number', description: 'initial delay, seconds' },
        jitter: { type: 'number', description: 'random extra delay, up to this many seconds' },
        before_reported_time: { type: 'number', description: 'search window before the execution, seconds' },
        after_reported_time: { type: 'number', description: 'search window after the execution, seconds' },
      },
    }),
  );
}

/**
 * One entry of a patched Caldera's detection list.
 * `detection_config` holds the query text as `command` (or `query`) and the detection settings; any other key is
 * kept for the connector. It may name the connector as `connector` (or `platform`), else `detection_platform` is it.
 */
export class DetectionListEntry {
  /** api, agent, or the host OS of an agent check: windows, linux, darwin. */
  @RequiredOneOf(PRODUCER_DETECTION_TYPES)
  detection_type: ProducerDetectionType;

  /** The product (api: splunk, elastic, …) or Caldera's executor name (psh, pwsh, cmd, sh, bash, zsh, proc). */
  @RequiredString()
  detection_platform: string;

  /** Holds the query text and the detection settings; see the class comment. */
  @DetectionConfigField()
  detection_config: Record<string, unknown>;

  /** Retries after the first attempt. */
  @OptionalInt(0, 100)
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

  /**
   * After a `not_detected` answer, search once more this many seconds later (a slow SIEM rule or EDR console);
   * 0 turns it off. Absent: the result consumer's DETECTION_RECHECK_AFTER_SECONDS (off by default).
   */
  @OptionalInt(0, 86_400)
  recheck_after_seconds?: number;

  /** Values for the query template's placeholders, e.g. `{ host, user, marker }`. */
  @OptionalStringRecord()
  placeholders?: Record<string, string>;
}

/** The `detections` field, as either form (or text of either), not yet read. */
export type Detections = DetectionsMap | DetectionListEntry[] | string;

/**
 * `detections` given as text: JSON, or Python's str() of a list or dict (single quotes, True/False/None), as
 * Caldera's `additional_info` holds it. Anything that is not text is returned as it is; blank text is no detections.
 * Throws a SyntaxError naming both attempts when the text is neither.
 */
export function parseDetectionsText(raw: unknown): unknown {
  if (typeof raw !== 'string') return raw;
  const text = raw.replace(/^\uFEFF/, '').trim();
  if (text === '') return undefined;
  try {
    return JSON.parse(text);
  } catch (jsonError) {
    try {
      return parsePythonLiteral(text);
    } catch (pythonError) {
      throw new SyntaxError(
        `detections is text that is neither JSON (${(jsonError as Error).message}) nor a Python literal (${(pythonError as Error).message})`,
      );
    }
  }
}

/**
 * The `detections` field of an execution result: optional and not validated with the message (see the comment at
 * the top of this file). Its text forms are parsed here when they parse; text that does not stays text, and
 * becomes one rejected entry with the reason.
 */
export function DetectionsField(): PropertyDecorator {
  return composeDecorators(
    IsOptional(),
    Transform(
      ({ obj, key }) => {
        try {
          return parseDetectionsText(obj[key]);
        } catch {
          return obj[key];
        }
      },
      { toClassOnly: true },
    ),
    JsonSchemaOverride({
      oneOf: [
        { $ref: '#/definitions/DetectionsMap' },
        { type: 'array', items: { $ref: '#/definitions/DetectionListEntry' } },
        { type: 'string', description: 'either form as JSON, or as a Python literal' },
      ],
    }),
  );
}
