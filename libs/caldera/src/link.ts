import { parseDetectionsText } from '@purple/contracts';

/*
 * Caldera's REST API v2 as the engine reads it (app/api/v2/handlers/operation_api.py and the marshmallow schemas of
 * app/objects: c_operation.py, secondclass/c_link.py, c_ability.py, c_agent.py). Every field is checked: the answer
 * comes from another program, and what agents report through it is attacker-controlled.
 */

/** Caldera's link states (`Link.states` in app/objects/secondclass/c_link.py). */
export const LINK_STATUS = {
  /** the operation's visibility setting skips the link */
  HIGH_VIZ: -5,
  /** the agent stopped checking in; the link will not run */
  UNTRUSTED: -4,
  /** waiting for the agent to collect and run it */
  EXECUTE: -3,
  /** an operator discarded it */
  DISCARD: -2,
  /** waiting for an operator's approval (a manual operation) */
  PAUSE: -1,
  SUCCESS: 0,
  ERROR: 1,
  /** the agent killed the command at the executor's timeout */
  TIMEOUT: 124,
} as const;

/** A status code's name, as the `state` of a `link_result` message. */
export const LINK_STATES: Record<number, string> = Object.fromEntries(Object.entries(LINK_STATUS).map(([name, code]) => [code, name]));

/** The states of a link whose command ran on the agent and reported back. */
const RAN_STATES = new Set<number>([LINK_STATUS.SUCCESS, LINK_STATUS.ERROR, LINK_STATUS.TIMEOUT]);

/** Operation states after which no link is added or changed any more (`cleanup` still runs cleanup links). */
const CLOSED_OPERATION_STATES = new Set(['finished', 'out_of_time']);

/** `GET /api/v2/operations`: one operation (the fields the engine uses). */
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

/** A link (one command for one agent): `GET …/links`, `GET …/links/{id}`, `POST …/potential-links`. */
export interface CalderaLink {
  id: string;
  paw: string;
  /** as Caldera gives it: plain text (Caldera 5 decodes it for display) or base64 (earlier releases) */
  command: string;
  status: number;
  decide?: string;
  /** when the agent reported the result; absent until then */
  finish?: string;
  agentReportedTime?: string;
  pid?: number;
  host?: string;
  ability: CalderaAbility;
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json => typeof value === 'object' && value !== null && !Array.isArray(value);

/** A non-empty string, or a number as a string; Caldera's display blanks missing values to ''. */
function textOf(value: unknown): string | undefined {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  return typeof value === 'string' && value.trim() !== '' ? value : undefined;
}

export function integerOf(value: unknown): number | undefined {
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

export function isClosedOperation(operation: CalderaOperation): boolean {
  return CLOSED_OPERATION_STATES.has(operation.state);
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

/** A link, or what makes the value none: `is not a link object`, `has no link id`, `has no integer status`. */
export function readLink(value: unknown): CalderaLink | { problem: string } {
  if (!isObject(value)) return { problem: 'is not a link object' };
  const id = textOf(value['id']);
  if (id === undefined) return { problem: 'has no link id' };
  const status = integerOf(value['status']);
  if (status === undefined) return { problem: 'has no integer status' };
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

/** A link, or undefined when the value is none (see {@link readLink} for why). */
export function linkOf(value: unknown): CalderaLink | undefined {
  const link = readLink(value);
  return 'problem' in link ? undefined : link;
}

/** The bridge's rule: the command ran and Caldera has its result (`finish` set; success, error or timeout). */
export function isFinishedLink(link: CalderaLink): boolean {
  return link.finish !== undefined && RAN_STATES.has(link.status);
}

/** The executor's rule while it waits for its own link: the agent reported (a finish time, or a final status). */
export function hasReported(link: CalderaLink): boolean {
  return link.finish !== undefined || RAN_STATES.has(link.status);
}

/**
 * The detections users attach to an ability in its `additional_info`: the patched-Caldera list or the seed's nested
 * map, as JSON text (Caldera's API serves `additional_info` values as strings), as Python's text of a list, or as a
 * list. Text that is neither is passed on as it is, and the consumer stores the execution with that entry rejected,
 * giving the reason. Undefined when the ability has none.
 */
export function detectionsOf(ability: CalderaAbility): unknown {
  const raw = ability.additionalInfo['detections'];
  try {
    return parseDetectionsText(raw) ?? undefined;
  } catch {
    return raw;
  }
}
