/**
 * Closed vocabularies shared by the messages, the database and the apps.
 * Each is a const tuple (usable with `@IsIn` and for iteration) plus its union type.
 */

/** Which worker pool runs a detection: SIEM/EDR queries (`api`) or commands on hosts (`agent`). */
export const DETECTION_TYPES = ['api', 'agent'] as const;
export type DetectionType = (typeof DETECTION_TYPES)[number];

/** Roll-up of all detection results of one execution (DESIGN "Data flow", step 4). */
export const EXECUTION_VERDICTS = ['pending', 'checking', 'detected', 'not_detected', 'error', 'no_detections'] as const;
export type ExecutionVerdict = (typeof EXECUTION_VERDICTS)[number];

/** Life cycle of one detection task in PostgreSQL. */
export const TASK_STATUSES = ['pending', 'dispatched', 'completed', 'failed', 'timed_out'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** What a worker says about one task attempt (`unsupported`: no connector for the platform). */
export const RESPONSE_STATUSES = ['detected', 'not_detected', 'unsupported', 'error'] as const;
export type ResponseStatus = (typeof RESPONSE_STATUSES)[number];

/** Task priority, as the seed's `metadata.priority`. */
export const TASK_PRIORITIES = ['high', 'medium', 'low'] as const;
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

/** `message_type` of the execution result a patched Caldera publishes. */
export const LINK_RESULT_MESSAGE_TYPE = 'link_result';
