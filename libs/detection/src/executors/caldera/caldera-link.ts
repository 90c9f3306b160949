import { ConnectorError } from '../../connectors/connector';
import { CommandResult } from '../output-rule';

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

/** What the executor reads of a link (the API's `LinkSchema` dump; `command` comes back decoded). */
export interface CalderaLink {
  id: string;
  status: number;
  /** when the agent reported the result (`%Y-%m-%dT%H:%M:%SZ`, UTC); empty until then */
  finish?: string;
}

/** A link from `POST …/potential-links` or `GET …/links/{id}` (or the `link` of `…/result`). */
export function linkOf(body: unknown, where: string): CalderaLink {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) throw malformed(`${where} is not a link object`);
  const link = body as Record<string, unknown>;
  if (typeof link['id'] !== 'string' || link['id'] === '') throw malformed(`${where} has no link id`);
  if (typeof link['status'] !== 'number' || !Number.isInteger(link['status'])) throw malformed(`${where} has no integer status`);
  const finish = typeof link['finish'] === 'string' && link['finish'] !== '' ? link['finish'] : undefined;
  return { id: link['id'], status: link['status'], ...(finish !== undefined && { finish }) };
}

/** The agent has reported the command's result: a finish time, or a final status. */
export function isFinished(link: CalderaLink): boolean {
  return link.finish !== undefined || link.status === LINK_STATUS.SUCCESS || link.status === LINK_STATUS.ERROR || link.status === LINK_STATUS.TIMEOUT;
}

/** The link's finish time (Caldera writes UTC, `2025-01-10T12:00:04Z`; before 4.0 `2025-01-10 12:00:04`). */
export function finishTimeOf(link: CalderaLink): Date | undefined {
  if (link.finish === undefined) return undefined;
  const text = /^\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}$/.test(link.finish) ? `${link.finish.replace(' ', 'T')}Z` : link.finish;
  const time = Date.parse(text);
  return Number.isNaN(time) ? undefined : new Date(time);
}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * The command's result from `GET …/links/{id}/result` (`{"link": {…}, "result": "<base64>"}`). Caldera 4+ stores
 * `{"stdout", "stderr", "exit_code"}` as JSON before encoding it (exit_code a string, empty when the agent does not
 * report one); older servers store the output itself. An empty result is a command that printed nothing. Without an
 * exit code the link's status stands in for it (0 success, else the status, 1 for an error).
 */
export function commandResultOf(result: unknown, link: CalderaLink): CommandResult {
  if (typeof result !== 'string') throw malformed('the link result has no result text');
  const encoded = result.replace(/\s+/g, '');
  if (!BASE64.test(encoded)) throw malformed('the link result is not base64');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const structured = structuredResultOf(decoded);
  if (structured === undefined) return { exitCode: link.status, output: decoded };
  return {
    exitCode: exitCodeOf(structured['exit_code']) ?? link.status,
    output: joinOutput(textOf(structured['stdout']), textOf(structured['stderr'])),
  };
}

function structuredResultOf(decoded: string): Record<string, unknown> | undefined {
  if (!decoded.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(decoded);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const fields = value as Record<string, unknown>;
    // a command that printed JSON of its own on an old server is output, not Caldera's envelope
    return 'stdout' in fields && ('stderr' in fields || 'exit_code' in fields) ? fields : undefined;
  } catch {
    return undefined;
  }
}

function exitCodeOf(value: unknown): number | undefined {
  if (typeof value === 'number' && Number.isInteger(value)) return value;
  if (typeof value === 'string' && /^-?\d+$/.test(value.trim())) return Number(value.trim());
  return undefined;
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}

/** stdout, then stderr, each line whole. */
function joinOutput(stdout: string, stderr: string): string {
  if (stdout === '' || stderr === '') return stdout + stderr;
  return stdout.endsWith('\n') ? stdout + stderr : `${stdout}\n${stderr}`;
}

function malformed(what: string): ConnectorError {
  return new ConnectorError(`caldera returned a malformed response: ${what}`, false);
}
