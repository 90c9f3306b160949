import { DetectionType, NormalisedDetection, TASK_PRIORITIES, TaskPriority } from '@purple/contracts';
import { RejectedMessageError } from '../errors';

export const DEFAULT_TASK_PRIORITY: TaskPriority = 'medium';
/** the seed's task example */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 30;
/** a task without `max_retries` is tried this many times before it is closed as timed out */
export const DEFAULT_MAX_ATTEMPTS = 3;
const MAX_TIMEOUT_SECONDS = 86_400;

/** One detection task as it is stored: pending, for the dispatcher to pick up. */
export interface PlannedTask {
  detectionType: DetectionType;
  platform: string;
  connector: string;
  query: string;
  config: Record<string, unknown>;
  priority: TaskPriority;
  timeoutSeconds: number;
  maxAttempts: number;
}

/**
 * Turns an execution's detections into the tasks to store. `priority` (high/medium/low) and `timeout_seconds`
 * are read from a detection's settings when given (the seed's task carries both); anything else there stays in
 * `config` for the worker. A malformed setting rejects the whole execution with the detection named.
 */
export function planTasks(detections: NormalisedDetection[]): PlannedTask[] {
  const problems: string[] = [];
  const tasks = detections.map((detection) => {
    const where = `detection ${detection.detectionType}/${detection.platform}`;
    const { priority, timeout_seconds: timeout } = detection.config;
    if (priority !== undefined && !(TASK_PRIORITIES as readonly unknown[]).includes(priority)) {
      problems.push(`${where}: priority must be one of ${TASK_PRIORITIES.join(', ')}`);
    }
    if (timeout !== undefined && !(Number.isInteger(timeout) && (timeout as number) >= 1 && (timeout as number) <= MAX_TIMEOUT_SECONDS)) {
      problems.push(`${where}: timeout_seconds must be an integer from 1 to ${MAX_TIMEOUT_SECONDS}`);
    }
    return {
      detectionType: detection.detectionType,
      platform: detection.platform,
      connector: detection.connector,
      query: detection.query,
      config: detection.config,
      priority: (priority as TaskPriority | undefined) ?? DEFAULT_TASK_PRIORITY,
      timeoutSeconds: (timeout as number | undefined) ?? DEFAULT_TASK_TIMEOUT_SECONDS,
      maxAttempts: detection.maxRetries === undefined ? DEFAULT_MAX_ATTEMPTS : detection.maxRetries + 1,
    };
  });
  if (problems.length > 0) throw new RejectedMessageError(problems, 'invalid execution result');
  return tasks;
}
