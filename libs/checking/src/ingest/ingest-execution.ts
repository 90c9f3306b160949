import { Injectable } from '@nestjs/common';
import { NormalisedExecution } from '@purple/contracts';
import { ExecutionStore, NewExecution, StoredExecution } from './execution-store';
import { planTasks } from './plan-tasks';

export interface IngestContext {
  /** see dedupeKeyOf: the same execution delivered again has the same key */
  dedupeKey: string;
  correlationId: string;
}

export type IngestOutcome = StoredExecution;

/**
 * Stores one execution result from Caldera: its operation, the execution and one pending task per detection, in
 * one transaction, so that the dispatcher (which watches the tasks) sees all of it or nothing. An execution
 * without detections is final at once (`no_detections`). A redelivery finds the first one and writes nothing.
 */
@Injectable()
export class IngestExecution {
  constructor(private readonly executions: ExecutionStore) {}

  execute(execution: NormalisedExecution, context: IngestContext): Promise<IngestOutcome> {
    return this.executions.store(newExecutionOf(execution, context));
  }
}

/** The rows to write for one normalised execution. Throws RejectedMessageError for malformed task settings. */
export function newExecutionOf(execution: NormalisedExecution, context: IngestContext): NewExecution {
  const tasks = planTasks(execution.detections);
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
    verdict: tasks.length === 0 ? 'no_detections' : 'pending',
    tasks,
  };
}
