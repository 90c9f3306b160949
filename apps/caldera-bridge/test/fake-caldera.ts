import { FakeHttpServer, FakeReply, RecordedRequest } from '@purple/detection/testing';
import { pythonStr } from '@purple/contracts/testing';
import { randomUUID } from 'node:crypto';

/*
 * A Caldera REST API v2 for the bridge's tests, answering as Caldera 5 does (app/api/v2/handlers/operation_api.py,
 * ability_api.py, agent_api.py; the marshmallow schemas of app/objects): the `KEY` header or 401, JSON bodies, the
 * display form of each object (None blanked to '', commands decoded, `additional_info` values as strings, times as
 * `%Y-%m-%dT%H:%M:%SZ`), `{"error": …}` 404s, and a link's result as base64 of `{"stdout", "stderr", "exit_code"}`.
 */

/** Caldera's link status codes. */
export const STATUS = { EXECUTE: -3, DISCARD: -2, SUCCESS: 0, ERROR: 1, TIMEOUT: 124 } as const;

export interface FakeAbility {
  ability_id: string;
  tactic: string;
  technique_id: string;
  technique_name: string;
  name?: string;
  /** what the ability's YAML has under `additional_info.detections` */
  detections?: unknown;
  /**
   * how the YAML wrote them: `json` a JSON string (served as it is), `yaml` a list (Caldera's API serves Python's
   * str() of it, since `additional_info` values are dumped as strings)
   */
  detectionsWrittenAs?: 'json' | 'yaml';
}

export interface FakeLinkSpec {
  id?: string;
  paw: string;
  /** the link's `host`; null: the link has none (the bridge asks for the agent) */
  host?: string | null;
  command: string;
  abilityId: string;
  status?: number;
  /** when the agent reported the result; set with the result */
  finishedAt?: Date;
  pid?: number;
  output?: { stdout: string; stderr: string; exit_code: number | string };
}

interface FakeLink {
  spec: Required<Pick<FakeLinkSpec, 'id' | 'paw' | 'command' | 'abilityId'>> & FakeLinkSpec;
  decide: Date;
  status: number;
  finish: Date | null;
  pid: number | null;
  /** base64, as Caldera's file service keeps it */
  result: string;
}

interface FakeOperation {
  id: string;
  name: string;
  state: string;
  start: Date;
  links: FakeLink[];
}

export class FakeCaldera {
  /** the key Caldera accepts; tests change it to script a 401 */
  apiKey: string;
  /** set to answer every request with this status instead (a Caldera in trouble); the body quotes the request */
  failWith?: number;
  readonly abilities = new Map<string, FakeAbility>();
  readonly agents = new Map<string, { paw: string; host: string; platform: string }>();
  private readonly operations: FakeOperation[] = [];

  private constructor(
    readonly server: FakeHttpServer,
    apiKey: string,
  ) {
    this.apiKey = apiKey;
  }

  static async start(apiKey: string): Promise<FakeCaldera> {
    const server = await FakeHttpServer.start(() => ({ status: 503, body: { error: 'starting' } }));
    const fake = new FakeCaldera(server, apiKey);
    server.handler = (request) => fake.answer(request);
    return fake;
  }

  get url(): string {
    return this.server.url;
  }

  /** the requests to one path, e.g. `/api/v2/operations` */
  requestsTo(path: string | RegExp): RecordedRequest[] {
    return this.server.requestsTo(path, 'GET');
  }

  addAbility(ability: FakeAbility): void {
    this.abilities.set(ability.ability_id, ability);
  }

  addAgent(paw: string, host: string, platform = 'linux'): void {
    this.agents.set(paw, { paw, host, platform });
  }

  addOperation(id: string, name: string, state = 'running'): void {
    this.operations.push({ id, name, state, start: new Date(Date.now() - 60_000), links: [] });
  }

  setOperationState(id: string, state: string): void {
    this.operation(id).state = state;
  }

  /** a link the planner decided on; finished at once when the spec has a status other than EXECUTE */
  addLink(operationId: string, spec: FakeLinkSpec): string {
    const id = spec.id ?? randomUUID();
    const link: FakeLink = { spec: { ...spec, id }, decide: new Date(Date.now() - 30_000), status: STATUS.EXECUTE, finish: null, pid: null, result: '' };
    this.operation(operationId).links.push(link);
    const status = spec.status ?? STATUS.EXECUTE;
    if (status !== STATUS.EXECUTE && status !== STATUS.DISCARD) this.finishLink(operationId, id, status, spec.output);
    else link.status = status;
    return id;
  }

  /** what contact_svc does when the agent reports: pid, finish, status, and the result file */
  finishLink(operationId: string, linkId: string, status: number, output?: FakeLinkSpec['output']): void {
    const link = this.link(operationId, linkId);
    link.status = status;
    link.finish = link.spec.finishedAt ?? new Date();
    link.pid = link.spec.pid ?? 4242;
    link.result = output ? Buffer.from(JSON.stringify(output)).toString('base64') : '';
  }

  close(): Promise<void> {
    return this.server.close();
  }

  private operation(id: string): FakeOperation {
    const found = this.operations.find((o) => o.id === id);
    if (!found) throw new Error(`fake Caldera has no operation ${id}`);
    return found;
  }

  private link(operationId: string, linkId: string): FakeLink {
    const found = this.operation(operationId).links.find((l) => l.spec.id === linkId);
    if (!found) throw new Error(`fake Caldera has no link ${linkId}`);
    return found;
  }

  private answer(request: RecordedRequest): FakeReply {
    if (request.headers['key'] !== this.apiKey) {
      // aiohttp's HTTPUnauthorized, raised by Caldera's authentication middleware
      return { status: 401, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: '401: Unauthorized' };
    }
    if (this.failWith !== undefined) {
      return { status: this.failWith, body: { error: `internal error serving ${request.path} (KEY ${request.headers['key']})` } };
    }
    if (request.method !== 'GET') return { status: 405, body: { error: 'method not allowed' } };
    const parts = request.path.split('/').filter(Boolean).map(decodeURIComponent);
    if (parts[0] !== 'api' || parts[1] !== 'v2') return notFound('no such API');
    const [, , kind, id, sub, linkId, leaf] = parts;
    if (kind === 'operations' && id === undefined) {
      return { status: 200, body: this.operations.map((o) => filtered(operationDisplay(o), request.query.getAll('include'))) };
    }
    if (kind === 'operations') {
      const operation = this.operations.find((o) => o.id === id);
      if (!operation) return notFound(`Operation not found: ${id}`);
      if (sub === 'links' && linkId === undefined) return { status: 200, body: operation.links.map((l) => this.linkDisplay(l)) };
      if (sub === 'links' && leaf === 'result') {
        const link = operation.links.find((l) => l.spec.id === linkId);
        if (!link) return notFound(`Link ${linkId} was not found in Operation ${operation.id}`);
        return { status: 200, body: { link: this.linkDisplay(link), result: link.result } };
      }
      return notFound(`no route ${request.path}`);
    }
    if (kind === 'abilities' && id !== undefined) {
      const ability = this.abilities.get(id);
      return ability ? { status: 200, body: abilityDisplay(ability) } : notFound(`Ability not found: ${id}`);
    }
    if (kind === 'agents' && id !== undefined) {
      const agent = this.agents.get(id);
      return agent ? { status: 200, body: { ...agent, group: 'red', trusted: true, contact: 'HTTP' } } : notFound(`Agent not found: ${id}`);
    }
    return notFound(`no route ${request.path}`);
  }

  /** Link.display: LinkSchema without jitter, None blanked to '', commands decoded */
  private linkDisplay(link: FakeLink): Record<string, unknown> {
    const ability = this.abilities.get(link.spec.abilityId) ?? {
      ability_id: link.spec.abilityId,
      tactic: 'auto-generated',
      technique_id: 'auto-generated',
      technique_name: 'auto-generated',
      name: 'Manual Command',
    };
    const host = link.spec.host === undefined ? this.agents.get(link.spec.paw)?.host : link.spec.host;
    return {
      id: link.spec.id,
      paw: link.spec.paw,
      command: link.spec.command,
      plaintext_command: link.spec.command,
      status: link.status,
      score: 0,
      decide: calderaTime(link.decide),
      pin: 0,
      pid: link.pid === null ? '' : String(link.pid),
      facts: [],
      relationships: [],
      used: [],
      unique: link.spec.id,
      collect: link.finish ? calderaTime(link.decide) : '',
      finish: link.finish ? calderaTime(link.finish) : '',
      ability: abilityDisplay(ability),
      executor: { name: 'sh', platform: 'linux', command: link.spec.command, timeout: 60, parsers: [] },
      cleanup: 0,
      visibility: { score: 50, adjustments: [] },
      host: host ?? '',
      output: link.result ? 'True' : 'False',
      deadman: false,
      ...(link.finish && { agent_reported_time: calderaTime(link.finish) }),
    };
  }
}

/** BaseWorld.TIME_FORMAT: `%Y-%m-%dT%H:%M:%SZ` */
export function calderaTime(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}

function notFound(error: string): FakeReply {
  return { status: 404, body: { error, details: {} } };
}

function operationDisplay(operation: FakeOperation): Record<string, unknown> {
  return {
    id: operation.id,
    name: operation.name,
    host_group: [],
    adversary: { adversary_id: 'ad-hoc', name: 'ad-hoc' },
    jitter: '2/8',
    planner: { id: 'atomic', name: 'atomic' },
    start: calderaTime(operation.start),
    state: operation.state,
    obfuscator: 'plain-text',
    autonomous: 1,
    chain: [],
    auto_close: false,
    visibility: 50,
  };
}

/** BaseObjectApi's `include` filter: only the named fields when any are named */
function filtered(object: Record<string, unknown>, include: string[]): Record<string, unknown> {
  return include.length === 0 ? object : Object.fromEntries(Object.entries(object).filter(([key]) => include.includes(key)));
}

function abilityDisplay(ability: FakeAbility): Record<string, unknown> {
  const additionalInfo: Record<string, string> = {};
  if (ability.detections !== undefined) {
    additionalInfo['detections'] =
      ability.detectionsWrittenAs === 'yaml' ? pythonStr(ability.detections) : typeof ability.detections === 'string' ? ability.detections : JSON.stringify(ability.detections);
  }
  return {
    ability_id: ability.ability_id,
    tactic: ability.tactic,
    technique_name: ability.technique_name,
    technique_id: ability.technique_id,
    name: ability.name ?? ability.ability_id,
    description: '',
    executors: [],
    requirements: [],
    privilege: null,
    repeatable: false,
    buckets: [ability.tactic],
    additional_info: additionalInfo,
    access: {},
    singleton: false,
    plugin: 'stockpile',
    delete_payload: true,
  };
}
