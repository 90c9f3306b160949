import type { DetectionType } from '@purple/contracts';
import { histogram } from '@purple/platform';

/**
 * `purple_task_processing_seconds`: from a task's dispatch to its result being stored, what the
 * PurpleTaskProcessingSlow alert (p95 over 5 min) and the dashboard read. A task that finds nothing answers only
 * when its search window closes (minutes), so the buckets are in minutes, with 60, 300 and 600 on bucket bounds
 * for the alert's threshold.
 */
export const TASK_PROCESSING_BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1200, 1800];

export const taskProcessingSeconds = histogram(
  'purple_task_processing_seconds',
  'Time from a detection task being dispatched to its result being stored, by detection type and platform',
  ['detection_type', 'platform'],
  TASK_PROCESSING_BUCKETS,
);

/**
 * The platforms a label may name. A task's platform is whatever Caldera sent (free text), and each distinct label
 * value is a time series of its own: anything else is counted as `other`.
 */
export const PLATFORM_LABELS: ReadonlySet<string> = new Set(['siem', 'edr', 'xdr', 'ndr', 'windows', 'linux', 'darwin', 'macos']);

export function platformLabel(platform: string): string {
  const name = platform.trim().toLowerCase();
  return PLATFORM_LABELS.has(name) ? name : 'other';
}

/** An ATT&CK technique or sub-technique id, the only technique label a metric may carry. */
export const TECHNIQUE_ID = /^T\d{4}(\.\d{3})?$/;

/**
 * A technique id as a label: `unknown` when the execution has none; Caldera (and so an ability author) chooses it,
 * so anything but a valid ATT&CK id is `other`.
 */
export function techniqueLabel(techniqueId: string | null | undefined): string {
  if (!techniqueId) return 'unknown';
  return TECHNIQUE_ID.test(techniqueId) ? techniqueId : 'other';
}

export interface TaskProcessing {
  detectionType: DetectionType;
  platform: string;
  seconds: number;
}

export function observeTaskProcessing({ detectionType, platform, seconds }: TaskProcessing): void {
  taskProcessingSeconds.observe({ detection_type: detectionType, platform: platformLabel(platform) }, seconds);
}
