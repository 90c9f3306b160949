import { DETECTION_ACTIONS, DETECTION_TYPES, DetectionAction, DetectionType, RESPONSE_STATUSES, ResponseStatus } from '../constants';
import {
  OptionalDateTime,
  OptionalNested,
  OptionalInt,
  OptionalNestedList,
  OptionalOneOf,
  OptionalString,
  RequiredBoolean,
  RequiredDateTime,
  RequiredInt,
  RequiredNested,
  RequiredNumber,
  RequiredOneOf,
  RequiredString,
} from '../decorators';

export class DetectionResults {
  @RequiredInt(0)
  events_found: number;

  @OptionalString()
  rule_matched?: string;

  @OptionalString()
  raw_output?: string;

  @RequiredNumber(0)
  execution_time_ms: number;
}

export class ResponseMetadata {
  @RequiredString()
  worker_id: string;

  /** e.g. `sha256:<hex>` of the query as run. */
  @OptionalString()
  query_hash?: string;

  /** The worker's version. */
  @RequiredString()
  version: string;
}

/** What a match is kept as (DESIGN "Detection semantics"): alert id, link, event time. */
export class EvidenceItem {
  /** The alert or event id in the source system. */
  @OptionalString()
  id?: string;

  /** Where a human can see it. */
  @OptionalString()
  link?: string;

  /** When the event happened; used for detection latency. */
  @OptionalDateTime()
  event_time?: string;

  /** What the source did, when it says: `blocked` (prevented) or `alerted` (only detected). */
  @OptionalOneOf(DETECTION_ACTIONS)
  action?: DetectionAction;
}

/**
 * What the worker saw about how its match is tied to the execution; the result consumer grades it
 * (`exact`, `scoped`, `heuristic`).
 */
export class MatchFacts {
  /** The marker the task was searched with. */
  @OptionalString()
  marker?: string;

  /** The marker appears in a matched event (or, for a host command, in its output). */
  @RequiredBoolean()
  marker_found: boolean;

  /** The query was limited to the execution's host (it uses `{{host}}` or `{{paw}}`). */
  @RequiredBoolean()
  host_scoped: boolean;
}

/**
 * The seed's detection response (worker → `checking.api.response` / `checking.agent.response`).
 *
 * Beyond the seed, all optional: `status` (`unsupported` when no connector exists for the
 * platform, `error` with `error` when the connector kept failing), `attempt` (the task attempt
 * answered) and `evidence` (what matched).
 */
export class DetectionResponseMessage {
  @RequiredString()
  detection_id: string;

  @RequiredString()
  task_id: string;

  @RequiredString()
  execution_id: string;

  @RequiredOneOf(DETECTION_TYPES)
  detection_type: DetectionType;

  @RequiredString()
  platform: string;

  @RequiredBoolean()
  detected: boolean;

  /** 0..1 */
  @RequiredNumber(0, 1)
  confidence: number;

  @RequiredNested(() => DetectionResults)
  results: DetectionResults;

  @RequiredDateTime()
  timestamp: string;

  @RequiredNested(() => ResponseMetadata)
  metadata: ResponseMetadata;

  @OptionalOneOf(RESPONSE_STATUSES)
  status?: ResponseStatus;

  /** Why the detection failed, with status `error`. */
  @OptionalString()
  error?: string;

  @OptionalInt(1)
  attempt?: number;

  @OptionalNestedList(() => EvidenceItem)
  evidence?: EvidenceItem[];

  /** How the match is tied to the execution (issue 15); absent from older workers. */
  @OptionalNested(() => MatchFacts)
  match?: MatchFacts;
}
