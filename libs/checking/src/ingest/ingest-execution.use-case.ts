import { Injectable } from '@nestjs/common';
import { ExecutionVerdict, NormalisedExecution } from '@purple/contracts';
import { counter } from '@purple/platform';
import { ExecutionRepository, NewExecution, StoredExecution } from '../executions/execution.repository';
import { decideVerdict } from '../verdict/decide-verdict';
import { PlannedTask, planTasks } from './plan-tasks';

export interface IngestContext {
  /** see dedupeKeyOf: the same execution delivered again has the same key */
  dedupeKey: string;
  correlationId: string;
}

export type IngestOutcome = StoredExecution;

const rejectedDetections = counter(
  'purple_detections_rejected_total',
  'Detection entries stored as rejected tasks because they cannot run (the task shows the reason), by worker pool',
  ['detection_type'],
);

/**
 * Stores one execution result from Caldera: its operation, the execution and one task per detection entry (pending,
 * or rejected with its reason), in one transaction, so that the dispatcher (which watches the tasks) sees all of it
 * or nothing. A redelivery finds the first one and writes nothing.
 */
@Injectable()
export class IngestExecution {
  constructor(private readonly executions: ExecutionRepository) {}

  async execute(execution: NormalisedExecution, context: IngestContext): Promise<IngestOutcome> {
    const stored = await this.executions.store(newExecutionOf(execution, context));
    if (stored.created) {
      for (const entry of execution.rejectedDetections) rejectedDetections.inc({ detection_type: entry.detectionType ?? 'unknown' });
    }
    return stored;
  }
}

/**
 * The rows to write for one normalised execution. Its verdict is decideVerdict's over the planned tasks, none run
 * yet: `pending`, or final at once when there is nothing to run (`no_detections` without any, `no_usable_detections`
 * when every one was rejected).
 */
export function newExecutionOf(execution: NormalisedExecution, context: IngestContext): NewExecution {
  const tasks = planTasks(execution.detections, execution.rejectedDetections);
  return {
    calderaOperationId: execution.operationId,
    operationName: execution.operationName ?? null,
    dedupeKey: context.dedupeKey,
    calderaLinkId: execution.linkId ?? null,
    agentHost: execution.agentHost,
    agentPaw: execution.agentPaw,
    command: execution.command,
    // the message's own vocabulary, as the API shows it
    result: { stdout: execution.result.stdout, stderr: execution.result.stderr, exit_code: execution.result.exitCode },
    executedAt: execution.executedAt,
    tactic: execution.attack?.tactic ?? null,
    techniqueId: execution.attack?.techniqueId ?? null,
    techniqueName: execution.attack?.techniqueName ?? null,
    correlationId: context.correlationId,
    verdict: verdictBeforeAnyRun(execution.executedAt, tasks),
    tasks,
  };
}

/** The one verdict rule (decideVerdict) applied to tasks just planned: not dispatched, no results. */
function verdictBeforeAnyRun(executedAt: Date, tasks: PlannedTask[]): ExecutionVerdict {
  const planned = tasks.map((task, index) => ({ id: String(index), status: task.status, attempts: 0 }));
  return decideVerdict({ executedAt, tasks: planned, results: [] }).verdict;
}
