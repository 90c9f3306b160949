import type { DetectionTaskMessage } from '@purple/contracts';
import type { QuerySyntax } from '../semantics/query-template';

/** One search over the task's time window. */
export interface SearchRequest {
  /** the query with its placeholders filled in */
  query: string;
  earliest: Date;
  latest: Date;
  /** the time this one search may take (the task's `query.timeout_seconds`); the signal fires when it is up */
  timeoutMs: number;
  task: DetectionTaskMessage;
}

/** One matching event or alert, kept as evidence. */
export interface MatchedEvent {
  id?: string;
  link?: string;
  eventTime?: Date;
  /** what the source did about it, when it says (CrowdStrike, Sentinel): prevented it, or only alerted */
  action?: 'blocked' | 'alerted';
}

export interface SearchOutcome {
  /** how many events matched (may exceed `events.length` when the connector keeps only the first ones) */
  eventsFound: number;
  events: MatchedEvent[];
  /** what the product answered, for humans; the worker truncates it */
  rawOutput: string;
  /** 0..1; default 1 (the product answered the question) */
  confidence?: number;
  /** the product's name for what matched (a rule or saved search), when it has one */
  ruleMatched?: string;
}

/**
 * A SIEM/EDR (api) or host executor (agent) the worker can ask. Connectors never log or return credentials, and
 * report failures as {@link ConnectorError}.
 */
export interface DetectionConnector {
  /** the task's `connector` it answers, e.g. `splunk` */
  readonly name: string;
  /** how placeholder values are quoted and escaped in this product's query language */
  readonly syntax: QuerySyntax;
  /** the syntax for one task, when it depends on the task (a connector with several query languages) */
  readonly syntaxFor?: (task: DetectionTaskMessage) => QuerySyntax;
  /** credentials the connector holds beyond secret-named variables; the worker keeps them out of its responses */
  readonly secrets?: readonly string[];
  search(request: SearchRequest, signal: AbortSignal): Promise<SearchOutcome>;
}

/**
 * Why a search failed. `retryable` failures (network, 5xx, rate limits, timeouts) are tried again at the next
 * interval of the search window; the others (bad credentials, a query the product refuses) end the task with
 * `error` at once, so a wrong password never turns into a retry storm.
 */
export class ConnectorError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    /** the product asked to wait this long before the next request (Retry-After) */
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'ConnectorError';
  }
}
