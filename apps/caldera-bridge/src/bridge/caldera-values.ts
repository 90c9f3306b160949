import { parseDetectionsText } from '@purple/contracts';

/*
 * What the bridge reads from Caldera's REST API v2 (app/api/v2/handlers/operation_api.py and the marshmallow
 * schemas of app/objects: c_operation.py, secondclass/c_link.py, c_ability.py, c_agent.py), read defensively:
 * every field is checked, since the answer comes from another program.
 */

/** `GET /api/v2/operations`: one operation (the fields the bridge uses). */
export interface CalderaOperation {
  id: string;
  name: string;
  /** running, run_one_link, paused, out_of_time, finished, cleanup */
  state: string;
  start?: string;
}

/** The ATT&CK data and `additional_info` of an ability (`GET /api/v2/abilities/{id}`, or a link's own copy). */
export interface CalderaAbility {
  abilityId?: string;
  tactic?: string;
  techniqueId?: string;
  techniqueName?: string;
  additionalInfo: Record<string, unknown>;
}

/** `GET /api/v2/operations/{id}/links`: one link (a command for one agent). */
export interface CalderaLink {
  id: string;
  paw: string;
  /** as Caldera gives it: plain text (Caldera 5 decodes it for display) or base64 (earlier releases) */
  command: string;
  status: number;
  decide?: string;
  finish?: string;
  agentReportedTime?: string;
  pid?: number;
  host?: string;
  ability: CalderaAbility;
}

/** Caldera's link status codes (Link.states). */
export const LINK_STATES: Record<number, string> = {
  [-5]: 'HIGH_VIZ',
  [-4]: 'UNTRUSTED',
  [-3]: 'EXECUTE',
  [-2]: 'DISCARD',
  [-1]: 'PAUSE',
  0: 'SUCCESS',
  1: 'ERROR',
  124: 'TIMEOUT',
};

/** The states of a link whose command ran on the agent and reported back. */
const RAN_STATES = new Set([0, 1, 124]);

/** Operation states after which no link is added or changed any more (`cleanup` still runs cleanup links). */
const CLOSED_OPERATION_STATES = new Set(['finished', 'out_of_time']);

/** A link whose command ran and whose result Caldera has: `finish` set, and not pending, paused or discarded. */
export function isFinishedLink(link: CalderaLink): boolean {
  return link.finish !== undefined && RAN_STATES.has(link.status);
}

export function isClosedOperation(operation: CalderaOperation): boolean {
  return CLOSED_OPERATION_STATES.has(operation.state);
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A non-empty string, or a number as a string; Caldera's display blanks missing values to ''. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

function integerOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

export function operationOf(value: unknown): CalderaOperation | undefined {
  if (!isObject(value)) return undefined;
  const id = textOf(value['id']);
  if (id === undefined) return undefined;
  return { id, name: textOf(value['name']) ?? id, state: textOf(value['state']) ?? '', start: textOf(value['start']) };
}

export function abilityOf(value: unknown): CalderaAbility {
  const ability = isObject(value) ? value : {};
  return {
    abilityId: textOf(ability['ability_id']),
    tactic: textOf(ability['tactic']),
    techniqueId: textOf(ability['technique_id']),
    techniqueName: textOf(ability['technique_name']),
    additionalInfo: isObject(ability['additional_info']) ? ability['additional_info'] : {},
  };
}

export function linkOf(value: unknown): CalderaLink | undefined {
  if (!isObject(value)) return undefined;
  const id = textOf(value['id']);
  const status = integerOf(value['status']);
  if (id === undefined || status === undefined) return undefined;
  return {
    id,
    paw: textOf(value['paw']) ?? '',
    command: typeof value['command'] === 'string' ? value['command'] : '',
    status,
    decide: textOf(value['decide']),
    finish: textOf(value['finish']),
    agentReportedTime: textOf(value['agent_reported_time']),
    pid: integerOf(value['pid']),
    host: textOf(value['host']),
    ability: abilityOf(value['ability']),
  };
}

/**
 * Caldera's base64 text as plain text. A value that is not base64 of printable UTF-8 is returned as it is: Caldera
 * 5 already decodes commands in its API answers, and a plain command such as `whoami` or `ls -la` is never valid
 * base64 of text (the letters of a word decode to bytes that are not UTF-8).
 */
export function decodeCalderaText(value: string): string {
  const compact = value.trim();
  if (compact === '' || compact.length % 4 !== 0 || !/^[A-Za-z0-9+/]+={0,2}$/.test(compact)) return value;
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(compact, 'base64'));
  } catch {
    return value;
  }
  return hasControlCharacters(text) ? value : text;
}

/** control characters other than tab and newlines: what base64 of binary, not of text, decodes to */
function hasControlCharacters(text: string): boolean {
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if ((code < 0x20 && code !== 0x09 && code !== 0x0a && code !== 0x0d) || code === 0x7f) return true;
  }
  return false;
}

/**
 * Caldera's time stamps as ISO-8601: `2024-01-15T10:30:00Z` (BaseWorld.TIME_FORMAT, UTC) or, from earlier
 * releases, `2024-01-15 10:30:00` (taken as UTC). Undefined when absent or unreadable.
 */
export function calderaTimeOf(value: string | undefined): string | undefined {
  if (value === undefined) return undefined;
  const match = /^(\d{4}-\d{2}-\d{2})[ T](\d{2}:\d{2}:\d{2}(?:\.\d+)?)(Z|[+-]\d{2}:?\d{2})?$/.exec(value.trim());
  if (!match) return undefined;
  const date = new Date(`${match[1]}T${match[2]}${match[3] ?? 'Z'}`);
  return Number.isNaN(date.getTime()) ? undefined : date.toISOString();
}

/** stdout and stderr are each cut to this size, so a chatty command stays far below the consumer's message limit */
export const MAX_OUTPUT_BYTES = 128 * 1024;
const TRUNCATION_MARK = '\n[truncated by caldera-bridge]';

function bounded(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_OUTPUT_BYTES) return text;
  return bytes.subarray(0, MAX_OUTPUT_BYTES).toString('utf8') + TRUNCATION_MARK;
}

export interface LinkOutput {
  stdout: string;
  stderr: string;
  exit_code?: number;
}

/**
 * A link's result (`GET …/links/{link_id}/result` → `result`): base64 of `{"stdout", "stderr", "exit_code"}` as JSON
 * (Caldera 4.1 and later), or base64 of the raw output (earlier releases); '' when the command printed nothing.
 */
export function linkOutputOf(result: string): LinkOutput | undefined {
  if (result.trim() === '') return undefined;
  const text = Buffer.from(result.trim(), 'base64').toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    parsed = undefined;
  }
  if (isObject(parsed) && ('stdout' in parsed || 'stderr' in parsed)) {
    const exitCode = integerOf(parsed['exit_code']);
    return {
      stdout: bounded(typeof parsed['stdout'] === 'string' ? parsed['stdout'] : ''),
      stderr: bounded(typeof parsed['stderr'] === 'string' ? parsed['stderr'] : ''),
      ...(exitCode !== undefined && { exit_code: exitCode }),
    };
  }
  return { stdout: bounded(text), stderr: '' };
}

/**
 * The detections users attach to an ability in its `additional_info` (Caldera abilities accept `additional_info`
 * in their YAML): `detections` as the patched-Caldera list `[{detection_type, detection_platform,
 * detection_config, max_retries}]` (or the seed's nested map), as JSON text — Caldera's API serves
 * `additional_info` values as strings — or as a list, which Caldera's API turns into Python's text of it. Parsed with
 * the consumer's own parser; text that is neither is passed on as it is, and the consumer stores the execution with
 * that entry rejected, giving the reason. Undefined when the ability has none.
 */
export function detectionsOf(ability: CalderaAbility): unknown {
  const raw = ability.additionalInfo['detections'];
  try {
    return parseDetectionsText(raw) ?? undefined;
  } catch {
    return raw;
  }
}
