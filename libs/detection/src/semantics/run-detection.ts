import { Inject, Injectable } from '@nestjs/common';
import { counter, histogram } from '@purple/platform';
import { DetectionTaskMessage, parseIsoDateTime } from '@purple/contracts';
import { ConnectorError, DetectionConnector, MatchedEvent, SearchOutcome, SearchRequest } from '../connectors/connector';
import { CLOCK, Clock } from './clock';
import { QuerySyntax, renderQueryTemplate, TemplateError } from './query-template';
import { MatchFactsSeen, matchFactsOf } from './match-facts';
import { DetectionSettings, searchWindow } from './settings';

const connectorCallDuration = histogram(
  'purple_connector_call_duration_seconds',
  'One search against a SIEM/EDR or host, by outcome (ok, failed, timed_out)',
  ['platform', 'connector', 'outcome'],
  [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120],
);
const connectorFailures = counter('purple_connector_failures_total', 'Failed searches by reason', ['platform', 'connector', 'reason']);

export interface DetectionOutcome {
  status: 'detected' | 'not_detected' | 'error';
  /** the query as run, placeholders filled in (absent when the template could not be filled) */
  query?: string;
  eventsFound: number;
  events: MatchedEvent[];
  rawOutput: string;
  confidence: number;
  ruleMatched?: string;
  error?: string;
  /** how many searches ran */
  searches: number;
  /** how the match is tied to the execution (detected answers only) */
  match?: MatchFactsSeen;
}

/** The worker is shutting down: the task goes back to the queue for another worker, unanswered and unacked. */
export class DetectionAbortedError extends Error {
  constructor() {
    super('detection aborted: the worker is shutting down');
    this.name = 'DetectionAbortedError';
  }
}

/**
 * Runs one task with its connector and the detection semantics (see {@link DetectionSettings}): waits for the
 * initial delay, searches the window, and searches again every interval until a match or until a search has run
 * after the window closed. A connector that refuses (bad credentials, bad query) ends it with `error` at once; one
 * that keeps failing ends it with `error` after `maxConsecutiveFailures` failures in a row, or when the window closes
 * on a failed search (it cannot say "not detected" about time it could not see).
 */
@Injectable()
export class RunDetection {
  constructor(@Inject(CLOCK) private readonly clock: Clock) {}

  async execute(
    task: DetectionTaskMessage,
    connector: DetectionConnector,
    settings: DetectionSettings,
    shutdown: AbortSignal,
  ): Promise<DetectionOutcome> {
    const executedAt = executionTimeOf(task) ?? new Date(this.clock.now());
    const window = searchWindow(executedAt, settings);
    let query: string;
    let marker: string | undefined;
    try {
      const syntax = connector.syntaxFor?.(task) ?? connector.syntax;
      const values = placeholderValues(task, window, syntax);
      marker = values['marker'];
      query = renderQueryTemplate(task.query.content, values, syntax);
    } catch (error) {
      if (error instanceof TemplateError) return failed(`query template: ${error.message}`, 0);
      throw error;
    }
    const request: SearchRequest = {
      query,
      earliest: window.earliest,
      latest: window.latest,
      timeoutMs: task.query.timeout_seconds * 1000,
      task,
    };

    await this.sleepUntil(window.firstSearchAt.getTime(), shutdown);
    let searches = 0;
    let consecutiveFailures = 0;
    let lastFailure: ConnectorError | undefined;
    let lastOutcome: SearchOutcome | undefined;
    for (;;) {
      searches += 1;
      try {
        lastOutcome = await this.searchOnce(connector, request, shutdown);
        lastFailure = undefined;
        consecutiveFailures = 0;
        if (lastOutcome.eventsFound > 0) {
          const match = matchFactsOf(task.query.content, marker, lastOutcome.rawOutput);
          return { ...answered('detected', lastOutcome, searches), query, match };
        }
      } catch (error) {
        if (!(error instanceof ConnectorError)) throw error;
        lastFailure = error;
        consecutiveFailures += 1;
        if (!error.retryable) return { ...failed(error.message, searches), query };
        if (consecutiveFailures >= settings.maxConsecutiveFailures) {
          return { ...failed(`${error.message} (${consecutiveFailures} failures in a row)`, searches), query };
        }
      }
      const now = this.clock.now();
      const closesAt = window.closesAt.getTime();
      if (now >= closesAt) break;
      const wait = Math.max(settings.retryIntervalSeconds * 1000, lastFailure?.retryAfterMs ?? 0);
      await this.sleepUntil(Math.min(now + wait, closesAt), shutdown);
    }
    if (lastFailure) return { ...failed(lastFailure.message, searches), query };
    return { ...answered('not_detected', lastOutcome as SearchOutcome, searches), query };
  }

  private async sleepUntil(at: number, shutdown: AbortSignal): Promise<void> {
    const ms = at - this.clock.now();
    if (shutdown.aborted) throw new DetectionAbortedError();
    if (ms <= 0) return;
    try {
      await this.clock.sleep(ms, shutdown);
    } catch {
      throw new DetectionAbortedError();
    }
  }

  /** One search, bounded by the task's timeout even if the connector ignores its signal. */
  private async searchOnce(connector: DetectionConnector, request: SearchRequest, shutdown: AbortSignal): Promise<SearchOutcome> {
    if (shutdown.aborted) throw new DetectionAbortedError();
    const timeout = AbortSignal.timeout(request.timeoutMs);
    const signal = AbortSignal.any([shutdown, timeout]);
    let onAbort: () => void = () => undefined;
    const aborted = new Promise<never>((_, reject) => {
      onAbort = () => reject(signal.reason);
      signal.addEventListener('abort', onAbort, { once: true });
    });
    const labels = { platform: request.task.platform, connector: connector.name };
    const stopTimer = connectorCallDuration.startTimer(labels);
    try {
      const outcome = await Promise.race([connector.search(request, signal), aborted]);
      stopTimer({ outcome: 'ok' });
      return outcome;
    } catch (error) {
      if (shutdown.aborted) throw new DetectionAbortedError();
      stopTimer({ outcome: timeout.aborted ? 'timed_out' : 'failed' });
      connectorFailures.inc({ ...labels, reason: timeout.aborted ? 'timeout' : error instanceof ConnectorError && !error.retryable ? 'refused' : 'unavailable' });
      if (timeout.aborted) {
        throw new ConnectorError(`${connector.name} search timed out after ${request.timeoutMs / 1000} s`, true);
      }
      if (error instanceof ConnectorError) throw error;
      throw new ConnectorError(`${connector.name} search failed: ${(error as Error)?.message ?? String(error)}`, true);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }
}

/** When the red-team command ran: the centre of the search window. */
function executionTimeOf(task: DetectionTaskMessage): Date | undefined {
  return parseIsoDateTime(task.metadata.execution_context.executed_at) ?? parseIsoDateTime(task.metadata.created_at);
}

/**
 * Built-in placeholder values, then the task's own `placeholders` (which know better, e.g. the host's name in the
 * SIEM); the time range always comes from the window, in the query language's time format.
 */
export function placeholderValues(
  task: DetectionTaskMessage,
  window: { earliest: Date; latest: Date },
  syntax: Pick<QuerySyntax, 'formatTime'>,
): Record<string, string | undefined> {
  const context = task.metadata.execution_context;
  return {
    host: context.target_host,
    paw: context.agent_paw,
    command: context.original_command,
    marker: context.marker ?? context.link_id ?? task.execution_id,
    ...(task.detection_config?.placeholders ?? {}),
    earliest: syntax.formatTime(window.earliest),
    latest: syntax.formatTime(window.latest),
  };
}

function answered(status: 'detected' | 'not_detected', outcome: SearchOutcome, searches: number): DetectionOutcome {
  return {
    status,
    eventsFound: outcome.eventsFound,
    events: outcome.events,
    rawOutput: outcome.rawOutput,
    confidence: outcome.confidence ?? 1,
    ...(outcome.ruleMatched !== undefined && { ruleMatched: outcome.ruleMatched }),
    searches,
  };
}

function failed(reason: string, searches: number): DetectionOutcome {
  return { status: 'error', eventsFound: 0, events: [], rawOutput: '', confidence: 0, error: reason, searches };
}
