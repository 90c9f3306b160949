import type { ExecutionVerdict, ResponseStatus, TaskStatus } from '@purple/contracts';

export const FINAL_TASK_STATUSES: readonly TaskStatus[] = ['completed', 'failed', 'timed_out', 'rejected'];
export const FINAL_VERDICTS: readonly ExecutionVerdict[] = ['detected', 'not_detected', 'error', 'no_detections', 'no_usable_detections'];

export const isFinalTaskStatus = (status: TaskStatus): boolean => FINAL_TASK_STATUSES.includes(status);
export const isFinalVerdict = (verdict: ExecutionVerdict): boolean => FINAL_VERDICTS.includes(verdict);

export interface VerdictTask {
  id: string;
  status: TaskStatus;
  /** how many times it was dispatched */
  attempts: number;
  /** a re-check (one more search after `not_detected`): its detection counts, its other answers change nothing */
  isRecheck?: boolean;
}

export interface VerdictResult {
  taskId: string;
  attempt: number;
  status: ResponseStatus;
  matchedEventAt: Date | null;
  resultAt: Date;
}

export interface VerdictInputs {
  executedAt: Date;
  tasks: VerdictTask[];
  results: VerdictResult[];
}

export interface VerdictDecision {
  verdict: ExecutionVerdict;
  /** for `detected`: earliest evidence (event time, else result time) minus the execution time */
  latencyMs: number | null;
}

/**
 * An execution's verdict from its tasks and their results, over the tasks that could run (rejected entries never
 * ran, so they neither detect nor fail anything):
 * - no tasks: `no_detections`; only rejected tasks: `no_usable_detections`;
 * - any result `detected`: `detected`, with the detection latency;
 * - every task final: `not_detected` when every task completed with `not_detected` as its latest answer,
 *   otherwise `error` (a failed, unsupported or timed-out task means the blue team's view is incomplete);
 * - any task dispatched, answered or retried: `checking`; else `pending`.
 * Re-check tasks count only by their detections: a verdict once decided is never reopened by a re-check.
 */
export function decideVerdict({ executedAt, tasks: allTasks, results }: VerdictInputs): VerdictDecision {
  if (allTasks.length === 0) return { verdict: 'no_detections', latencyMs: null };
  const tasks = allTasks.filter((t) => t.status !== 'rejected' && !t.isRecheck);
  if (tasks.length === 0) return { verdict: 'no_usable_detections', latencyMs: null };

  const detections = results.filter((r) => r.status === 'detected');
  if (detections.length > 0) {
    const firstSeen = Math.min(...detections.map((r) => (r.matchedEventAt ?? r.resultAt).getTime()));
    // an event stamped before the execution (clock skew, a window reaching back) still means "seen at once"
    return { verdict: 'detected', latencyMs: Math.max(0, firstSeen - executedAt.getTime()) };
  }

  if (tasks.every((t) => isFinalTaskStatus(t.status))) {
    const latestAnswer = (taskId: string) =>
      results.filter((r) => r.taskId === taskId).sort((a, b) => b.attempt - a.attempt)[0]?.status;
    const allNotDetected = tasks.every((t) => t.status === 'completed' && latestAnswer(t.id) === 'not_detected');
    return { verdict: allNotDetected ? 'not_detected' : 'error', latencyMs: null };
  }

  const started = results.length > 0 || tasks.some((t) => t.status !== 'pending' || t.attempts > 0);
  return { verdict: started ? 'checking' : 'pending', latencyMs: null };
}
