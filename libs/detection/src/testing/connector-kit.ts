/* What every connector and executor test builds: a search request, a task, one search through the detection semantics,
 * and the ConnectorError a failing search rejects with. Plain functions (no `expect`): this folder compiles without
 * jest's types. */
import type { DetectionTaskMessage, DetectionType, TaskPriority } from '@purple/contracts';
import { ConnectorError, DetectionConnector, SearchRequest } from '../connectors/connector';
import { Clock, systemClock } from '../semantics/clock';
import { DetectionOutcome, RunDetection } from '../semantics/run-detection';
import { DetectionSettings } from '../semantics/settings';

/** The window searches default to: ten minutes around 2025-01-10T12:00:00Z. */
export const SEARCH_WINDOW: { readonly earliest: Date; readonly latest: Date } = {
  earliest: new Date('2025-01-10T11:55:00Z'),
  latest: new Date('2025-01-10T12:05:00Z'),
};

/**
 * One search, at once: no window after the execution and no delay, and the first failure ends the task. With a task
 * executed long ago (as {@link minimalTask}'s is) the window has closed, so RunDetection searches exactly once.
 */
export const ONE_SEARCH: DetectionSettings = {
  windowBeforeSeconds: 0,
  windowAfterSeconds: 0,
  initialDelaySeconds: 0,
  retryIntervalSeconds: 1,
  maxConsecutiveFailures: 1,
  jitterSeconds: 0,
};

export interface MinimalTaskOptions {
  taskId?: string;
  operationId?: string;
  detectionType?: DetectionType;
  platform?: string;
  connector?: string;
  queryType?: string;
  content?: string;
  timeoutSeconds?: number;
  priority?: TaskPriority;
  /** `metadata.created_at`; also the execution time unless `executedAt` says otherwise */
  createdAt?: string;
  executedAt?: string;
  originalCommand?: string;
  targetHost?: string;
  agentPaw?: string;
  linkId?: string;
  executionId?: string;
  attempt?: number;
  /** `detection_config`, as it is (tests give malformed ones too) */
  config?: Record<string, unknown>;
}

/**
 * A detection task with the fields a connector reads, executed on 2020-01-01 (its window closed long ago) unless
 * `createdAt`/`executedAt` say otherwise. Optional fields (`connector`, `agent_paw`, `execution_id`, `attempt`,
 * `detection_config`) appear only when given.
 */
export function minimalTask(options: MinimalTaskOptions = {}): DetectionTaskMessage {
  const createdAt = options.createdAt ?? '2020-01-01T00:00:00Z';
  const task = {
    task_id: options.taskId ?? 'task-1',
    operation_id: options.operationId ?? 'op-1',
    detection_type: options.detectionType ?? 'api',
    platform: options.platform ?? 'siem',
    ...(options.connector !== undefined && { connector: options.connector }),
    query: { type: options.queryType ?? 'search', content: options.content ?? 'x', timeout_seconds: options.timeoutSeconds ?? 5 },
    metadata: {
      priority: options.priority ?? 'low',
      created_at: createdAt,
      execution_context: {
        original_command: options.originalCommand ?? 'whoami',
        target_host: options.targetHost ?? 'web-01',
        ...(options.agentPaw !== undefined && { agent_paw: options.agentPaw }),
        executed_at: options.executedAt ?? createdAt,
        link_id: options.linkId ?? 'link-42',
      },
    },
    ...(options.executionId !== undefined && { execution_id: options.executionId }),
    ...(options.attempt !== undefined && { attempt: options.attempt }),
    ...(options.config !== undefined && { detection_config: options.config }),
  };
  // detection_config is the contract's class; tests pass plain (sometimes deliberately invalid) objects
  return task as unknown as DetectionTaskMessage;
}

/** A connector's search request: `query` over {@link SEARCH_WINDOW}, 5 s to answer, for {@link minimalTask}() by default. */
export function searchRequest(
  query: string,
  options: { earliest?: Date; latest?: Date; timeoutMs?: number; task?: DetectionTaskMessage } = {},
): SearchRequest {
  return {
    query,
    earliest: options.earliest ?? SEARCH_WINDOW.earliest,
    latest: options.latest ?? SEARCH_WINDOW.latest,
    timeoutMs: options.timeoutMs ?? 5000,
    task: options.task ?? minimalTask(),
  };
}

/**
 * The ConnectorError `promise` rejects with. Rejects with an Error saying what happened instead when the promise
 * resolved or rejected with something else, so a test awaiting it fails there.
 */
export async function connectorFailure(promise: Promise<unknown>): Promise<ConnectorError> {
  let resolved: unknown;
  try {
    resolved = await promise;
  } catch (error) {
    if (error instanceof ConnectorError) return error;
    throw new Error(`expected a ConnectorError, but the promise rejected with ${summarize(error)}`, { cause: error });
  }
  throw new Error(`expected a ConnectorError, but the promise resolved to ${summarize(resolved)}`);
}

/** The task run by `connector` through RunDetection on the system clock, with {@link ONE_SEARCH} unless told. */
export function runDetection(
  connector: DetectionConnector,
  task: DetectionTaskMessage,
  options: { settings?: DetectionSettings; signal?: AbortSignal } = {},
): Promise<DetectionOutcome> {
  return new RunDetection(systemClock).execute(task, connector, options.settings ?? ONE_SEARCH, options.signal ?? new AbortController().signal);
}

/** The task run by `connector` with one search, at once ({@link ONE_SEARCH}). */
export function runOnce(connector: DetectionConnector, task: DetectionTaskMessage, signal?: AbortSignal): Promise<DetectionOutcome> {
  return runDetection(connector, task, { signal });
}

/** The system clock, with time a test moves forward (a token's expiry without waiting for it). */
export function movableClock(): Clock & { advance(ms: number): void } {
  let offset = 0;
  return { now: () => Date.now() + offset, sleep: systemClock.sleep, advance: (ms) => (offset += ms) };
}

function summarize(value: unknown): string {
  if (value instanceof Error) return `${value.name}: ${value.message}`;
  try {
    return JSON.stringify(value)?.slice(0, 500) ?? String(value);
  } catch {
    return String(value);
  }
}
