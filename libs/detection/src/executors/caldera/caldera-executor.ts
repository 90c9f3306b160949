import type { DetectionTaskMessage } from '@purple/contracts';
import { ConnectorError, DetectionConnector, SearchOutcome, SearchRequest } from '../../connectors/connector';
import { HttpAnswer } from '../../connectors/http-client';
import { callProduct, jsonObjectOf } from '../../connectors/product-http';
import { Clock, systemClock } from '../../semantics/clock';
import { QuerySyntax } from '../../semantics/query-template';
import { judgeCommandResult, outputRuleOf } from '../output-rule';
import { CalderaLink, hasReported, LINK_STATUS } from '@purple/caldera';
import { commandResultOf, finishTimeOf, requireLink } from './caldera-link';
import { CalderaSettings } from './caldera-settings';
import { EXECUTORS_BY_DIALECT, hasPlaceholders, ShellDialect, SYNTAX_BY_DIALECT, unsafePlaceholders } from './shell-quoting';

/** The ability every detection link carries, so operators can tell checks from the red team's own links. */
export const DETECTION_ABILITY = {
  ability_id: 'purple-detection-check',
  name: 'purple detection check',
  description: 'A detection command run by the purple checking engine',
  tactic: 'detection',
  technique_id: 'detection-check',
  technique_name: 'Detection check',
} as const;

/** Operation states in which Caldera adds no link: the request would wait for ever (`Operation.apply`). */
const CLOSED_OPERATION_STATES = ['finished', 'out_of_time', 'cleanup'];
const MAX_LINK_BYTES = 1024 * 1024;
const MAX_RESULT_BYTES = 10 * 1024 * 1024;
/** links still awaited from earlier searches that timed out; beyond this the oldest are forgotten */
const MAX_PENDING_LINKS = 1000;
const EXECUTOR_NAME = /^[a-z][a-z0-9_]{0,31}$/;

export interface CalderaExecutorOptions {
  /** the connector name tasks give, e.g. `caldera`, `powershell` */
  name: string;
  /**
   * the shell whose string literals placeholder values become; null for an executor without quoting rules the engine
   * can vouch for (cmd, proc), whose commands run only as written, without placeholders
   */
  dialect: ShellDialect | null;
  /** the Caldera executor used when the task's `detection_config.executor` names none (else derived from its platform) */
  defaultExecutor?: string;
}

/**
 * Runs the task's command on the Caldera agent that ran the attack (the host with the logs), through Caldera's
 * REST API v2 (`KEY` header): it checks that the operation still takes links, adds the command to it as a
 * potential link for the task's agent (`POST /api/v2/operations/{id}/potential-links`), polls the link
 * (`GET …/links/{link_id}`) until the agent has reported, reads its result (`GET …/links/{link_id}/result`), and
 * judges the exit code and output by the task's `detection_config.match` ({@link outputRuleOf}).
 *
 * A link the agent has not finished when a search's time is up is remembered: the task's next search polls the
 * same link instead of adding another, so a slow agent (or a manual operation waiting for approval) does not pile up
 * copies of the command.
 */
export class CalderaExecutor implements DetectionConnector {
  readonly name: string;
  readonly syntax: QuerySyntax;
  private readonly apiUrl: string;
  /** link ids by task attempt, for links a search left waiting */
  private readonly pendingLinks = new Map<string, string>();

  constructor(
    private readonly settings: CalderaSettings,
    private readonly options: CalderaExecutorOptions,
    private readonly clock: Clock = systemClock,
  ) {
    this.name = options.name;
    // without a dialect no placeholder is ever rendered into a command (checkPlaceholders refuses them)
    this.syntax = SYNTAX_BY_DIALECT[options.dialect ?? 'sh'];
    this.apiUrl = `${settings.url}/api/v2`;
  }

  async search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome> {
    const startedAt = this.clock.now();
    const task = request.task;
    const paw = task.metadata.execution_context.agent_paw;
    if (!paw) throw refused('the task names no Caldera agent (metadata.execution_context.agent_paw)');
    // a malformed rule or command fails before anything runs
    const rule = outputRuleOf(task.detection_config as Record<string, unknown> | undefined);
    const executor = this.executorFor(task);
    this.checkPlaceholders(task.query.content, executor);

    const operationId = task.operation_id;
    const call = { signal, startedAt, timeoutMs: request.timeoutMs };
    const pendingKey = `${operationId}/${task.task_id}#${task.attempt ?? 1}`;
    let linkId = this.pendingLinks.get(pendingKey);
    if (linkId === undefined) {
      await this.checkOperationTakesLinks(operationId, call);
      linkId = await this.addLink(operationId, paw, executor, request, call);
      this.remember(pendingKey, linkId);
    }
    try {
      const link = await this.waitUntilFinished(operationId, linkId, call);
      const result = await this.resultOf(operationId, link, call);
      this.pendingLinks.delete(pendingKey);
      const finishedAt = finishTimeOf(link);
      const judged = await judgeCommandResult(result, rule, finishedAt);
      const evidence = { id: link.id, link: `${this.settings.url}/#/operations/${encodeURIComponent(operationId)}`, ...(finishedAt && { eventTime: finishedAt }) };
      return {
        eventsFound: judged.eventsFound,
        events: judged.eventsFound > 0 ? [evidence] : [],
        rawOutput: `caldera link ${link.id} on agent ${paw} (executor ${executor})\n${judged.rawOutput}`,
      };
    } catch (error) {
      // a link that is over (or that Caldera refuses to show) is not awaited again; one still waiting for the agent
      // when the search's time ran out, or behind a passing failure, is polled again at the next search
      if (error instanceof LinkOver || (error instanceof ConnectorError && !error.retryable)) this.pendingLinks.delete(pendingKey);
      throw error;
    }
  }

  /** `detection_config.executor`, else this connector's fixed one, else the task's platform's shell. */
  private executorFor(task: DetectionTaskMessage): string {
    const configured = (task.detection_config as Record<string, unknown> | undefined)?.['executor'];
    if (configured !== undefined) {
      if (typeof configured !== 'string' || !EXECUTOR_NAME.test(configured)) {
        throw refused('detection_config.executor must be a Caldera executor name such as sh, psh, pwsh or cmd');
      }
      return configured;
    }
    if (this.options.defaultExecutor) return this.options.defaultExecutor;
    const platform = task.platform.toLowerCase();
    if (platform === 'windows') return 'psh';
    if (platform === 'linux' || platform === 'darwin') return 'sh';
    throw refused(`cannot tell which Caldera executor runs a command for platform ${task.platform}: set detection_config.executor`);
  }

  /**
   * Placeholder values become string literals of this connector's shell, so they must run in that shell, and stand
   * where the shell reads them as literals (see {@link unsafePlaceholders}).
   */
  private checkPlaceholders(template: string, executor: string): void {
    if (!hasPlaceholders(template)) return;
    const dialect = this.options.dialect;
    if (dialect === null) {
      throw refused(`the ${this.name} executor has no quoting the engine can vouch for: write its command without {{placeholders}}, or use sh, bash, zsh, psh or pwsh`);
    }
    if (!EXECUTORS_BY_DIALECT[dialect].includes(executor)) {
      const hint =
        EXECUTORS_BY_DIALECT.powershell.includes(executor) ? ': name the connector "powershell" for PowerShell quoting'
        : EXECUTORS_BY_DIALECT.sh.includes(executor) ? ': name the connector "sh" (or "caldera") for sh quoting'
        : '';
      throw refused(`the ${this.name} connector writes placeholder values as ${dialect} literals, which executor ${executor} does not read${hint}`);
    }
    const problems = unsafePlaceholders(template, dialect);
    if (problems.length > 0) {
      throw refused(`placeholder values would not stay string literals in the ${dialect} command: ${problems.join('; ')}; put each placeholder bare or inside '…'`);
    }
  }

  /**
   * Caldera holds a new link until the operation runs (`Operation.apply`): in a finished operation it never answers,
   * in a paused one only after it resumes. So the state is asked first (`include=state` keeps the chain out).
   */
  private async checkOperationTakesLinks(operationId: string, call: CallContext): Promise<void> {
    const answer = await this.request('GET', `/operations/${encodeURIComponent(operationId)}?include=state`, call, MAX_LINK_BYTES);
    const state = jsonObjectOf('caldera', answer, 'an operation object')['state'];
    if (typeof state !== 'string') return;
    if (CLOSED_OPERATION_STATES.includes(state)) {
      throw refused(`operation ${operationId} is ${state}: Caldera adds links only to a running operation (turn off auto-close to check after the attack)`);
    }
    if (state === 'paused') throw new ConnectorError(`caldera: operation ${operationId} is paused; the check waits until it runs`, true);
  }

  /** `POST …/potential-links`: Caldera takes the command as plain text and encodes it into the link itself. */
  private async addLink(operationId: string, paw: string, executor: string, request: SearchRequest, call: CallContext): Promise<string> {
    const body = {
      paw,
      executor: {
        name: executor,
        platform: platformOf(request.task.platform, executor),
        command: request.query,
        // the agent kills the command when the search's time is up (Caldera answers status 124)
        timeout: Math.max(1, Math.ceil(request.timeoutMs / 1000)),
      },
      ability: { ...DETECTION_ABILITY, executors: [] },
    };
    const answer = await this.request('POST', `/operations/${encodeURIComponent(operationId)}/potential-links`, call, MAX_LINK_BYTES, body);
    return requireLink(jsonObjectOf('caldera', answer, 'a link object'), 'the created link').id;
  }

  /** Polls the link every CALDERA_POLL_INTERVAL_MS until the agent has reported; the search's signal ends the wait. */
  private async waitUntilFinished(operationId: string, linkId: string, call: CallContext): Promise<CalderaLink> {
    const path = `/operations/${encodeURIComponent(operationId)}/links/${encodeURIComponent(linkId)}`;
    for (;;) {
      const link = requireLink(jsonObjectOf('caldera', await this.request('GET', path, call, MAX_LINK_BYTES), 'a link object'), 'the link');
      if (link.status === LINK_STATUS.DISCARD) throw refused(`link ${linkId} was discarded in Caldera`);
      if (link.status === LINK_STATUS.HIGH_VIZ) throw refused(`link ${linkId} was skipped: its visibility is above the operation's`);
      if (link.status === LINK_STATUS.UNTRUSTED) throw new LinkOver(`the agent stopped checking in, so link ${linkId} will not run (status untrusted)`);
      // a killed command found nothing it could vouch for: an error, never "not detected"
      if (link.status === LINK_STATUS.TIMEOUT) throw new LinkOver(`the agent killed the command at its timeout (link ${linkId}, status 124)`);
      if (hasReported(link)) return link;
      // the signal ends this wait when the search's time is up
      await this.clock.sleep(this.settings.pollIntervalMs, call.signal);
    }
  }

  private async resultOf(operationId: string, link: CalderaLink, call: CallContext) {
    const path = `/operations/${encodeURIComponent(operationId)}/links/${encodeURIComponent(link.id)}/result`;
    const body = jsonObjectOf('caldera', await this.request('GET', path, call, MAX_RESULT_BYTES), 'a link result object');
    return commandResultOf(body['result'], link);
  }

  private request(method: 'GET' | 'POST', path: string, call: CallContext, maxBodyBytes: number, body?: unknown): Promise<HttpAnswer> {
    return callProduct(
      {
        method,
        url: new URL(`${this.apiUrl}${path}`),
        headers: {
          KEY: this.settings.apiKey,
          accept: 'application/json',
          ...(body !== undefined && { 'content-type': 'application/json' }),
        },
        ...(body !== undefined && { body: JSON.stringify(body) }),
        signal: call.signal,
        verifyTls: this.settings.verifyTls,
        maxBodyBytes,
      },
      {
        product: 'caldera',
        // what is left of the search's time, rate-limit waits included
        timeoutMs: Math.max(0, call.timeoutMs - (this.clock.now() - call.startedAt)),
        maxRetryAfterMs: this.settings.maxRetryAfterMs,
        clock: this.clock,
        describeError: calderaErrorText,
      },
    );
  }

  private remember(key: string, linkId: string): void {
    this.pendingLinks.set(key, linkId);
    if (this.pendingLinks.size > MAX_PENDING_LINKS) this.pendingLinks.delete(this.pendingLinks.keys().next().value as string);
  }
}

/**
 * The executors Caldera serves, one per connector name: `caldera` (the executor from `detection_config.executor`
 * or the task's platform; sh quoting); Caldera's own executor names, each running on that executor with its
 * quoting: `psh` and `pwsh` (PowerShell), `sh`, `bash` and `zsh` (sh single quotes, which all three read alike),
 * `cmd` and `proc` (no placeholders); and the seed's `powershell` (psh). A `detection_config.executor` still wins.
 */
export function calderaExecutors(settings: CalderaSettings, clock: Clock = systemClock): CalderaExecutor[] {
  const on = (name: string, dialect: ShellDialect | null, defaultExecutor = name) =>
    new CalderaExecutor(settings, { name, dialect, defaultExecutor }, clock);
  return [
    new CalderaExecutor(settings, { name: 'caldera', dialect: 'sh' }, clock),
    on('powershell', 'powershell', 'psh'),
    on('psh', 'powershell'),
    on('pwsh', 'powershell'),
    // the seed's `bash` ran on sh before Caldera's executor names were accepted; both read the same literals
    on('bash', 'sh', 'sh'),
    on('sh', 'sh'),
    on('zsh', 'sh'),
    on('cmd', null),
    on('proc', null),
  ];
}

interface CallContext {
  signal: AbortSignal;
  startedAt: number;
  timeoutMs: number;
}

/** The link ended without a result to judge; the next search adds a new one. */
class LinkOver extends ConnectorError {
  constructor(reason: string) {
    super(`caldera: ${reason}`, true);
  }
}

/** The platform Caldera's executor is for (Caldera itself takes the agent's platform). */
function platformOf(taskPlatform: string, executor: string): string {
  const platform = taskPlatform.toLowerCase();
  if (['windows', 'linux', 'darwin'].includes(platform)) return platform;
  return ['psh', 'pwsh', 'cmd'].includes(executor) ? 'windows' : 'linux';
}

/** Caldera's JSON error body: `{"error": "...", "details": ...}`. */
function calderaErrorText(answer: HttpAnswer): string | undefined {
  try {
    const body = JSON.parse(answer.body) as Record<string, unknown>;
    const details = typeof body['details'] === 'string' ? ` (${body['details']})` : '';
    return typeof body['error'] === 'string' ? `${body['error']}${details}` : undefined;
  } catch {
    return undefined;
  }
}

function refused(reason: string): ConnectorError {
  return new ConnectorError(`caldera: ${reason}`, false);
}
