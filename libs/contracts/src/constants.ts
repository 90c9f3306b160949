/**
 * Closed vocabularies shared by the messages, the database and the apps.
 * Each is a const tuple (usable with `@IsIn` and for iteration) plus its union type.
 */

/** Which worker pool runs a detection: SIEM/EDR queries (`api`) or commands on hosts (`agent`). */
export const DETECTION_TYPES = ['api', 'agent'] as const;
export type DetectionType = (typeof DETECTION_TYPES)[number];

/** The operating systems an agent check may name as its `detection_type` (a patched Caldera's list form). */
export const HOST_OPERATING_SYSTEMS = ['windows', 'linux', 'darwin'] as const;
export type HostOs = (typeof HOST_OPERATING_SYSTEMS)[number];

/** `detection_type` values a producer may send in the list form: the worker pool, or the host OS of an agent check. */
export const PRODUCER_DETECTION_TYPES = [...DETECTION_TYPES, ...HOST_OPERATING_SYSTEMS] as const;
export type ProducerDetectionType = (typeof PRODUCER_DETECTION_TYPES)[number];

/**
 * Caldera's executor names (and the seed's `powershell`), which agent checks give as their platform; the
 * agent-worker registers a Caldera executor under each (libs/detection, "Caldera agent executor").
 */
export const AGENT_EXECUTOR_NAMES = ['psh', 'pwsh', 'powershell', 'cmd', 'sh', 'bash', 'zsh', 'proc'] as const;

/**
 * Roll-up of all detection results of one execution (DESIGN "Data flow", step 4). `no_detections`: the execution
 * came without any; `no_usable_detections`: every detection it came with was rejected (see the tasks' reasons).
 */
export const EXECUTION_VERDICTS = [
  'pending',
  'checking',
  'detected',
  'not_detected',
  'error',
  'no_detections',
  'no_usable_detections',
] as const;
export type ExecutionVerdict = (typeof EXECUTION_VERDICTS)[number];

/** Life cycle of one detection task in PostgreSQL (`rejected`: the detection entry was unusable, never run). */
export const TASK_STATUSES = ['pending', 'dispatched', 'completed', 'failed', 'timed_out', 'rejected'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** What a worker says about one task attempt (`unsupported`: no connector for the platform). */
export const RESPONSE_STATUSES = ['detected', 'not_detected', 'unsupported', 'error'] as const;
export type ResponseStatus = (typeof RESPONSE_STATUSES)[number];

/** Task priority, as the seed's `metadata.priority`. */
export const TASK_PRIORITIES = ['high', 'medium', 'low'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** `message_type` of the execution result a patched Caldera publishes. */
export const LINK_RESULT_MESSAGE_TYPE = 'link_result';

/**
 * How surely a detection belongs to its execution (issue 15): `exact` when the execution's marker was found in the
 * matched event; `scoped` when the search was limited to the execution's host (and its time window); `heuristic`
 * for anything looser (only the time window, or a query that names neither).
 */
export const MATCH_QUALITIES = ['exact', 'scoped', 'heuristic'] as const;
export type MatchQuality = (typeof MATCH_QUALITIES)[number];

/** What a source did about a detected execution, when it can tell: prevented it (`blocked`) or only reported it. */
export const DETECTION_ACTIONS = ['blocked', 'alerted'] as const;
export type DetectionAction = (typeof DETECTION_ACTIONS)[number];

/** One source's outcome for one execution (the per-source matrix's columns). */
export const SOURCE_OUTCOMES = ['detected', 'not_detected', 'error', 'unsupported'] as const;
export type SourceOutcome = (typeof SOURCE_OUTCOMES)[number];

/** Where a task's initial delay came from: the ability, the source's learned ingestion delay, or the default. */
export const INITIAL_DELAY_SOURCES = ['ability', 'learned', 'default'] as const;
export type InitialDelaySource = (typeof INITIAL_DELAY_SOURCES)[number];

/** How one technique (or one source of it) changed between two runs of an operation. */
export const COMPARISON_CHANGES = ['newly_missed', 'newly_detected', 'still_missed', 'still_detected', 'only_in_a', 'only_in_b', 'undecided'] as const;
export type ComparisonChange = (typeof COMPARISON_CHANGES)[number];
