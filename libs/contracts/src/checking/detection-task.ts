import { DETECTION_TYPES, DetectionType, TASK_PRIORITIES, TaskPriority } from '../constants';
import {
  OptionalDateTime,
  OptionalInt,
  OptionalNested,
  OptionalString,
  RequiredDateTime,
  RequiredInt,
  RequiredNested,
  RequiredOneOf,
  RequiredString,
} from '../decorators';
import { DetectionConfig } from './detections';

/** What to run. */
export class DetectionQuery {
  /** e.g. `splunk_search`, `powershell_command`, `bash_command`. */
  @RequiredString()
  type: string;

  /** The query or command text, placeholders already filled in or to be filled by the worker. */
  @RequiredString()
  content: string;

  /** Limit for one run of the query. */
  @RequiredInt(1)
  timeout_seconds: number;
}

/** What the task was made from, for the worker's placeholders and for humans reading it. */
export class ExecutionContext {
  @RequiredString()
  original_command: string;

  @RequiredString()
  target_host: string;

  @OptionalString()
  agent_paw?: string;

  /** When the red-team command ran: the centre of the search window. */
  @OptionalDateTime()
  executed_at?: string;

  @OptionalString()
  link_id?: string;

  /** The execution's short, stable marker (the `{{marker}}` placeholder): Caldera's link id, else generated once. */
  @OptionalString()
  marker?: string;
}

export class TaskMetadata {
  @RequiredOneOf(TASK_PRIORITIES)
  priority: TaskPriority;

  @RequiredDateTime()
  created_at: string;

  @RequiredNested(() => ExecutionContext)
  execution_context: ExecutionContext;
}

/**
 * The seed's detection task (dispatcher → `checking.api.task` / `checking.agent.task`).
 *
 * Beyond the seed, all optional: `execution_id` (the engine's execution the task belongs to),
 * `attempt` (1 for the first dispatch, +1 per retry; results are stored once per attempt),
 * `connector` (what runs the query: splunk, crowdstrike, powershell, bash, ...; a worker without
 * it answers `unsupported`), `detection_config` (time window, delays, placeholders) and
 * `correlation_id` (carried from Caldera's result to the verdict for logs).
 */
export class DetectionTaskMessage {
  @RequiredString()
  task_id: string;

  @RequiredString()
  operation_id: string;

  @RequiredOneOf(DETECTION_TYPES)
  detection_type: DetectionType;

  /** siem, edr, windows, linux, ... */
  @RequiredString()
  platform: string;

  @RequiredNested(() => DetectionQuery)
  query: DetectionQuery;

  @RequiredNested(() => TaskMetadata)
  metadata: TaskMetadata;

  @OptionalString()
  execution_id?: string;

  @OptionalInt(1)
  attempt?: number;

  @OptionalString()
  connector?: string;

  @OptionalNested(() => DetectionConfig)
  detection_config?: DetectionConfig;

  @OptionalString()
  correlation_id?: string;
}
