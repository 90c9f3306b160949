import { randomUUID } from 'node:crypto';
import { FakeHttpServer, FakeReply, jsonOf, RecordedRequest } from './fake-http-server';
import { FakeProduct } from './fake-product';

/** An agent in the fake's operation (`host_group`). */
export interface FakeCalderaAgentHost {
  paw: string;
  host: string;
  platform: string;
  executors: string[];
}

/** What the simulated agent does with a link it is given. */
export interface FakeAgentRun {
  /** how many polls of the link still see it waiting before the agent reports; `never` for an agent that never does */
  pendingPolls: number | 'never';
  stdout: string;
  stderr: string;
  /** the exit code as Caldera stores it (a string; empty when the agent reports none) */
  exitCode: string;
  /** the link status the agent reports (default: 0 for exit code 0, else 1) */
  status?: number;
  /** how the result is stored: Caldera 4+'s base64 JSON envelope, or (older servers) the base64 output itself */
  resultFormat: 'json' | 'plain';
}

/** The body of `POST …/potential-links`, once the fake has checked its required fields. */
export interface PotentialLinkRequest {
  paw: string;
  executor: { name: string; platform?: string; command: string; timeout?: number; [key: string]: unknown };
  ability?: Record<string, unknown>;
  [key: string]: unknown;
}

/** A link as the fake holds it, with the body that created it. */
export interface FakeCalderaLink {
  id: string;
  operationId: string;
  request: PotentialLinkRequest;
  run: FakeAgentRun;
  polls: number;
  status: number;
  finish: string;
}

/**
 * A local server speaking the part of Caldera's REST API v2 the agent executor uses, as documented in
 * app/api/v2/handlers/operation_api.py: `GET /api/v2/operations/{id}` (with `include`), `POST …/potential-links`
 * (checks paw, executor name and command as Caldera does; answers the link with its plain command and a new id),
 * `GET …/links/{link_id}` and `GET …/links/{link_id}/result` (`{"link", "result": base64}`). Every request needs the
 * `KEY` header. The agent reports each link after `run.pendingPolls` polls. Like Caldera, a potential link for an
 * operation that is not running gets no answer. `intercept` lets tests script failures.
 */
export class FakeCalderaAgent extends FakeProduct {
  readonly links: FakeCalderaLink[] = [];
  /** what the agent does with the next links */
  run: FakeAgentRun = { pendingPolls: 1, stdout: '', stderr: '', exitCode: '0', resultFormat: 'json' };
  /** answers instead of the fake when it returns a reply */
  intercept: (request: RecordedRequest) => FakeReply | undefined = () => undefined;
  operation: { id: string; name: string; state: string; autonomous: number; agents: FakeCalderaAgentHost[] };

  private constructor(
    server: FakeHttpServer,
    private readonly apiKey: string,
    operation: FakeCalderaAgent['operation'],
  ) {
    super(server);
    this.operation = operation;
  }

  static async start(options: { apiKey: string; operationId: string; agents: FakeCalderaAgentHost[] }): Promise<FakeCalderaAgent> {
    return new FakeCalderaAgent(await FakeHttpServer.start(), options.apiKey, {
      id: options.operationId,
      name: 'purple-op',
      state: 'running',
      autonomous: 1,
      agents: options.agents,
    });
  }

  get requests(): RecordedRequest[] {
    return this.server.requests;
  }

  requestsTo(path: string | RegExp, method?: string): RecordedRequest[] {
    return this.server.requestsTo(path, method);
  }

  /** the bodies of the potential links received */
  get linkRequests(): PotentialLinkRequest[] {
    return this.links.map((link) => link.request);
  }

  protected handle(request: RecordedRequest): FakeReply {
    if (request.headers['key'] !== this.apiKey) return { status: 401, body: '401: Unauthorized' };
    const intercepted = this.intercept(request);
    if (intercepted) return intercepted;
    const route = /^\/api\/v2\/operations\/([^/]+)(?:\/(potential-links|links)(?:\/([^/]+)(\/result)?)?)?$/.exec(request.path);
    if (!route) return notFound(`no route ${request.method} ${request.path}`);
    const [, operationId, collection, linkId, result] = route.map((part) => (part === undefined ? undefined : decodeURIComponent(part)));
    if (operationId !== this.operation.id) return notFound(`Operation not found: ${operationId}`);
    if (request.method === 'GET' && collection === undefined) return this.operationDisplay(request.query.getAll('include'));
    if (request.method === 'POST' && collection === 'potential-links' && linkId === undefined) return this.createPotentialLink(request);
    if (request.method === 'GET' && collection === 'links' && linkId !== undefined) {
      const link = this.links.find((candidate) => candidate.id === linkId);
      if (!link) return notFound(`Link ${linkId} was not found in Operation ${operationId}`);
      if (result) return { status: 200, body: { link: this.display(link), result: resultOf(link) } };
      this.poll(link);
      return { status: 200, body: this.display(link) };
    }
    return notFound(`no route ${request.method} ${request.path}`);
  }

  private operationDisplay(include: string[]): FakeReply {
    const { id, name, state, autonomous, agents } = this.operation;
    const display: Record<string, unknown> = {
      id,
      name,
      state,
      autonomous,
      host_group: agents.map((agent) => ({ ...agent, trusted: true })),
      chain: this.links.map((link) => this.display(link)),
    };
    if (include.length > 0) for (const key of Object.keys(display)) if (!include.includes(key)) delete display[key];
    return { status: 200, body: display };
  }

  /** As OperationApiManager.create_potential_link. */
  private createPotentialLink(request: RecordedRequest): FakeReply {
    const data = jsonOf(request);
    if (!data?.executor) return badRequest("'executor' is a required field for link creation.");
    if (!data.executor.name) return badRequest("'name' is a required field for link executor.");
    if (!data.executor.command) return badRequest("'command' is a required field for link executor.");
    if (!data.paw) return badRequest("'paw' is a required field for link creation.");
    const agent = this.operation.agents.find((candidate) => candidate.paw === data.paw);
    if (!agent) return notFound(`Agent ${data.paw} was not found.`);
    if (!agent.executors.includes(data.executor.name)) return badRequest(`Agent ${agent.paw} missing specified executor`);
    // Operation.apply waits while the operation is not running: the request gets no answer
    if (this.operation.state !== 'running') return { hang: true };
    const link: FakeCalderaLink = {
      id: randomUUID(),
      operationId: this.operation.id,
      request: data as PotentialLinkRequest,
      run: { ...this.run },
      polls: 0,
      status: this.operation.autonomous ? -3 : -1,
      finish: '',
    };
    this.links.push(link);
    return { status: 200, body: this.display(link) };
  }

  private poll(link: FakeCalderaLink): void {
    link.polls += 1;
    if (link.finish !== '' || link.run.pendingPolls === 'never' || link.polls <= link.run.pendingPolls) return;
    link.status = link.run.status ?? (link.run.exitCode === '0' ? 0 : 1);
    link.finish = new Date().toISOString().replace(/\.\d{3}Z$/, 'Z');
  }

  /** Link.display: the command decoded, the executor and ability as given. */
  private display(link: FakeCalderaLink): Record<string, unknown> {
    const agent = this.operation.agents.find((candidate) => candidate.paw === link.request.paw) as FakeCalderaAgentHost;
    const command = String(link.request.executor.command);
    return {
      id: link.id,
      paw: agent.paw,
      host: agent.host,
      command,
      plaintext_command: command,
      status: link.status,
      score: 0,
      decide: '2025-01-10T12:00:00Z',
      pin: 0,
      pid: link.finish ? '4242' : '',
      facts: [],
      relationships: [],
      used: [],
      unique: link.id,
      collect: link.polls > 0 ? '2025-01-10T12:00:01Z' : '',
      finish: link.finish,
      ability: { ...link.request.ability, executors: [link.request.executor] },
      executor: { ...link.request.executor, platform: agent.platform, timeout: link.request.executor.timeout ?? 60 },
      cleanup: 0,
      visibility: { score: 50, adjustments: [] },
      output: link.finish !== '' ? 'True' : 'False',
      deadman: false,
    };
  }
}

/** As file_svc.read_result_file: '' until the agent reported. */
function resultOf(link: FakeCalderaLink): string {
  if (link.finish === '') return '';
  const { stdout, stderr, exitCode, resultFormat } = link.run;
  const stored = resultFormat === 'json' ? JSON.stringify({ stdout, stderr, exit_code: exitCode }) : stdout;
  return Buffer.from(stored, 'utf8').toString('base64');
}

function notFound(error: string): FakeReply {
  return { status: 404, body: { error, details: null } };
}

function badRequest(error: string): FakeReply {
  return { status: 400, body: { error, details: null } };
}
