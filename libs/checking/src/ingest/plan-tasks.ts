import { DetectionType, HostOs, NormalisedDetection, RejectedDetection, TaskPriority } from '@purple/contracts';

export const DEFAULT_TASK_PRIORITY: TaskPriority = 'medium';
/** the seed's task example */
export const DEFAULT_TASK_TIMEOUT_SECONDS = 30;
/** a task without `max_retries` is tried this many times before it is closed as timed out */
export const DEFAULT_MAX_ATTEMPTS = 3;

/** One detection task as it is stored: pending for the dispatcher, or rejected (never run) with its reason. */
export interface PlannedTask {
  status: 'pending' | 'rejected';
  /** null only for a rejected entry whose worker pool could not be told */
  detectionType: DetectionType | null;
  platform: string;
  connector: string;
  query: string;
  config: Record<string, unknown>;
  priority: TaskPriority;
  timeoutSeconds: number;
  maxAttempts: number;
  hostOs: HostOs | null;
  rejectionReason: string | null;
}

/**
 * Turns an execution's detections into the tasks to store: each usable one pending, with `priority` and
 * `timeout_seconds` read from its settings (already checked by `readDetections`), anything else left in `config` for
 * the worker; each rejected one closed at once, with its reason, so the API shows what was refused and why.
 */
export function planTasks(detections: NormalisedDetection[], rejected: RejectedDetection[] = []): PlannedTask[] {
  const runnable = detections.map(
    (detection): PlannedTask => ({
      status: 'pending',
      detectionType: detection.detectionType,
      platform: detection.platform,
      connector: detection.connector,
      query: detection.query,
      config: detection.config,
      priority: (detection.config['priority'] as TaskPriority | undefined) ?? DEFAULT_TASK_PRIORITY,
      timeoutSeconds: (detection.config['timeout_seconds'] as number | undefined) ?? DEFAULT_TASK_TIMEOUT_SECONDS,
      maxAttempts: detection.maxRetries === undefined ? DEFAULT_MAX_ATTEMPTS : detection.maxRetries + 1,
      hostOs: detection.hostOs ?? null,
      rejectionReason: null,
    }),
  );
  const refused = rejected.map(
    (entry): PlannedTask => ({
      status: 'rejected',
      detectionType: entry.detectionType,
      platform: entry.platform ?? '',
      connector: '',
      query: entry.query ?? '',
      config: {},
      priority: DEFAULT_TASK_PRIORITY,
      timeoutSeconds: DEFAULT_TASK_TIMEOUT_SECONDS,
      maxAttempts: 0,
      hostOs: null,
      rejectionReason: entry.reason,
    }),
  );
  return [...runnable, ...refused];
}
