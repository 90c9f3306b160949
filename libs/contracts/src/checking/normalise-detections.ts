import { ClassConstructor } from 'class-transformer';
import { DETECTION_TYPES, DetectionType, HOST_OPERATING_SYSTEMS, HostOs, TASK_PRIORITIES } from '../constants';
import { validateMessage } from '../validation';
import { AgentDetectionSpec, ApiDetectionSpec, DetectionListEntry, parseDetectionsText } from './detections';

/** One detection to run for an execution, whichever form it arrived in. */
export interface NormalisedDetection {
  detectionType: DetectionType;
  /** Where to look: siem, edr, windows, linux, ... */
  platform: string;
  /** What runs it: splunk, crowdstrike, psh, sh, powershell, bash, ... */
  connector: string;
  /** The query (api) or command (agent) text. */
  query: string;
  /** Every other setting the producer sent, with the settings under their canonical names (see readSettings). */
  config: Record<string, unknown>;
  maxRetries?: number;
  /** The OS of the host an agent check runs on, when the producer said it. */
  hostOs?: HostOs;
}

/** A detection entry that cannot run: it becomes a task closed as `rejected`, with the reason. */
export interface RejectedDetection {
  /** The worker pool it was meant for, when that much could be told. */
  detectionType: DetectionType | null;
  /** The platform it named, when it named one as text. */
  platform: string | null;
  /** The query or command it carried, when it carried one as text. */
  query: string | null;
  /** What is wrong, with the entry's path (`detections[1].detection_type must be one of ...`). */
  reason: string;
}

export interface DetectionsRead {
  usable: NormalisedDetection[];
  rejected: RejectedDetection[];
}

/**
 * Producer names of detection settings (a patched Caldera's `detection_config`) and the canonical name each is kept
 * under. The canonical name wins when both are given.
 */
const SETTING_ALIASES: Readonly<Record<string, string>> = {
  timeout: 'timeout_seconds',
  delay: 'initial_delay_seconds',
  jitter: 'jitter_seconds',
  before_reported_time: 'window_before_seconds',
  after_reported_time: 'window_after_seconds',
};

const DAY = 86_400;
/** Settings in whole seconds, with their bounds; a fraction is rounded up. */
const SECOND_SETTINGS: Readonly<Record<string, { min: number; max: number }>> = {
  timeout_seconds: { min: 1, max: DAY },
  initial_delay_seconds: { min: 0, max: DAY },
  jitter_seconds: { min: 0, max: DAY },
  window_before_seconds: { min: 0, max: 30 * DAY },
  window_after_seconds: { min: 0, max: 30 * DAY },
  retry_interval_seconds: { min: 1, max: DAY },
};

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value : null;
}

function describe(value: unknown): string {
  if (value === null || value === undefined) return String(value);
  if (Array.isArray(value)) return 'a list';
  return `a ${typeof value}`;
}

/**
 * The settings of one entry under their canonical names, or the problems that make it unusable. Seconds may be
 * numbers or numeric text (Caldera's YAML often quotes them).
 */
function readSettings(raw: Record<string, unknown>, path: string): { config: Record<string, unknown>; problems: string[] } {
  const config: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(raw)) {
    const canonical = SETTING_ALIASES[key];
    if (canonical === undefined) config[key] = value;
    else if (!(canonical in raw)) config[canonical] = value;
  }
  const problems: string[] = [];
  for (const [key, { min, max }] of Object.entries(SECOND_SETTINGS)) {
    if (config[key] === undefined) continue;
    const value = config[key];
    const seconds = typeof value === 'number' ? value : typeof value === 'string' && value.trim() !== '' ? Number(value) : NaN;
    if (!Number.isFinite(seconds) || Math.ceil(seconds) < min || Math.ceil(seconds) > max) {
      const given = Object.keys(SETTING_ALIASES).find((alias) => SETTING_ALIASES[alias] === key && alias in raw && !(key in raw)) ?? key;
      problems.push(`${path}.${given} must be a number of seconds from ${min} to ${max}`);
    } else {
      config[key] = Math.ceil(seconds);
    }
  }
  const priority = config['priority'];
  if (priority !== undefined && !(TASK_PRIORITIES as readonly unknown[]).includes(priority)) {
    problems.push(`${path}.priority must be one of ${TASK_PRIORITIES.join(', ')}`);
  }
  return { config, problems };
}

type EntryOutcome = { ok: true; detection: NormalisedDetection } | { ok: false; rejected: RejectedDetection };

function reject(reason: string, detectionType: DetectionType | null = null, platform: unknown = null, query: unknown = null): EntryOutcome {
  return { ok: false, rejected: { detectionType, platform: text(platform), query: text(query), reason } };
}

const rejectedAlone = (reason: string): RejectedDetection => ({ detectionType: null, platform: null, query: null, reason });

/** class-validator's problems with an entry, with the entry's path in front of each. */
function entryProblems<T extends object>(cls: ClassConstructor<T>, entry: Record<string, unknown>, path: string): { value?: T; problems: string[] } {
  const result = validateMessage(cls, entry);
  return result.ok ? { value: result.value, problems: [] } : { problems: result.errors.map((error) => `${path}.${error}`) };
}

function hostOsOf(name: string): HostOs | undefined {
  const lower = name.toLowerCase();
  return (HOST_OPERATING_SYSTEMS as readonly string[]).includes(lower) ? (lower as HostOs) : undefined;
}

function poolOf(detectionType: unknown): DetectionType | null {
  if (typeof detectionType !== 'string') return null;
  const type = detectionType.toLowerCase();
  if ((DETECTION_TYPES as readonly string[]).includes(type)) return type as DetectionType;
  return (HOST_OPERATING_SYSTEMS as readonly string[]).includes(type) ? 'agent' : null;
}

function readListEntry(raw: unknown, path: string): EntryOutcome {
  if (!isPlainObject(raw)) return reject(`${path} must be an object, got ${describe(raw)}`);
  // producers write `Windows` as often as `windows`
  const entry = typeof raw['detection_type'] === 'string' ? { ...raw, detection_type: raw['detection_type'].toLowerCase() } : raw;
  const config = isPlainObject(raw['detection_config']) ? raw['detection_config'] : {};
  const pool = poolOf(raw['detection_type']);
  const rejected = (reason: string) => reject(reason, pool, raw['detection_platform'], config['command'] ?? config['query']);

  const checked = entryProblems(DetectionListEntry, entry, path);
  if (!checked.value) return rejected(checked.problems.join('; '));
  const { detection_type: type, detection_platform: platform, max_retries: maxRetries } = checked.value;
  const { query, command, connector, platform: configPlatform, ...rest } = checked.value.detection_config;
  const settings = readSettings(rest, `${path}.detection_config`);
  if (settings.problems.length > 0) return rejected(settings.problems.join('; '));

  // an OS type names where the check runs (detection_platform then names the executor); so may an agent check's platform
  const hostOs = hostOsOf(type) ?? (type === 'agent' ? hostOsOf(platform) : undefined);
  const detection: NormalisedDetection = {
    detectionType: pool as DetectionType,
    platform: type === 'agent' || type === 'api' ? platform : (hostOs as string),
    connector: text(connector) ?? text(configPlatform) ?? platform,
    query: (text(command) ?? text(query)) as string,
    config: settings.config,
    ...(maxRetries != null && { maxRetries }),
    ...(hostOs && { hostOs }),
  };
  return { ok: true, detection };
}

const KNOWN_SPEC_KEYS = new Set(['query', 'command', 'platform', 'detection_config', 'max_retries']);

function readMapEntry(detectionType: DetectionType, platform: string, raw: unknown, path: string): EntryOutcome {
  const rawQuery = isPlainObject(raw) ? (raw['query'] ?? raw['command']) : null;
  const rejected = (reason: string) => reject(reason, detectionType, platform, rawQuery);
  if (!isPlainObject(raw)) return rejected(`${path} must be an object, got ${describe(raw)}`);
  const checked =
    detectionType === 'api' ? entryProblems(ApiDetectionSpec, raw, path) : entryProblems(AgentDetectionSpec, raw, path);
  if (!checked.value) return rejected(checked.problems.join('; '));
  const spec = checked.value;
  // extra keys of the entry, then its explicit `detection_config` (which wins)
  const extras = Object.fromEntries(Object.entries(raw).filter(([key]) => !KNOWN_SPEC_KEYS.has(key)));
  const settings = readSettings({ ...extras, ...(spec.detection_config ?? {}) }, path);
  if (settings.problems.length > 0) return rejected(settings.problems.join('; '));
  const hostOs = hostOsOf(platform);
  const detection: NormalisedDetection = {
    detectionType,
    platform,
    connector: spec.platform,
    query: spec instanceof ApiDetectionSpec ? spec.query : (spec as AgentDetectionSpec).command,
    config: settings.config,
    ...(spec.max_retries != null && { maxRetries: spec.max_retries }),
    ...(detectionType === 'agent' && hostOs && { hostOs }),
  };
  return { ok: true, detection };
}

function readMap(map: Record<string, unknown>): EntryOutcome[] {
  const outcomes: EntryOutcome[] = [];
  // api first, then agent, then whatever else was sent (each refused), in key order
  const keys = [...DETECTION_TYPES.filter((type) => type in map), ...Object.keys(map).filter((key) => !(DETECTION_TYPES as readonly string[]).includes(key))];
  for (const key of keys) {
    const byPlatform = map[key];
    if (!(DETECTION_TYPES as readonly string[]).includes(key)) {
      outcomes.push(reject(`detections.${key} is not a detection type; expected one of: ${DETECTION_TYPES.join(', ')}`, null, key));
      continue;
    }
    const detectionType = key as DetectionType;
    if (!isPlainObject(byPlatform)) {
      outcomes.push(reject(`detections.${key} must be an object keyed by platform, got ${describe(byPlatform)}`, detectionType));
      continue;
    }
    for (const [platform, entry] of Object.entries(byPlatform)) {
      outcomes.push(readMapEntry(detectionType, platform, entry, `detections.${key}.${platform}`));
    }
  }
  return outcomes;
}

/**
 * Reads an execution's `detections`, whichever form and encoding they came in, entry by entry: every usable entry
 * becomes a detection to run, every unusable one (unknown type, wrong field types, no query, a malformed setting) a
 * rejected detection with its reason. Never throws: nothing in `detections` can cost the execution itself.
 * Map entries come api first, then agent, in key order; list entries in list order.
 */
export function readDetections(raw: unknown): DetectionsRead {
  let value: unknown;
  try {
    value = parseDetectionsText(raw);
  } catch (error) {
    return { usable: [], rejected: [rejectedAlone((error as Error).message)] };
  }
  if (value === undefined || value === null) return { usable: [], rejected: [] };
  const outcomes = Array.isArray(value)
    ? value.map((entry, i) => readListEntry(entry, `detections[${i}]`))
    : isPlainObject(value)
      ? readMap(value)
      : [reject(`detections must be a list of detections or an object keyed by detection type, got ${describe(value)}`)];
  const read: DetectionsRead = { usable: [], rejected: [] };
  for (const outcome of outcomes) {
    if (outcome.ok) read.usable.push(outcome.detection);
    else read.rejected.push(outcome.rejected);
  }
  return read;
}
