import { Injectable, NotFoundException } from '@nestjs/common';
import { ExecutionRepository, ExecutionRow, GetExecutionOutcomes, TaskRepository, TaskRow, UUID_PATTERN } from '@purple/checking';

@Injectable()
export class GetExecution {
  constructor(
    private readonly executions: ExecutionRepository,
    private readonly tasks: TaskRepository,
    private readonly outcomes: GetExecutionOutcomes,
  ) {}

  async execute(id: string): Promise<ExecutionRow & { tasks: TaskRow[] } & Awaited<ReturnType<GetExecutionOutcomes['execute']>>> {
    const execution = UUID_PATTERN.test(id) ? await this.executions.findExecution(id) : null;
    if (!execution) throw new NotFoundException(`no execution ${id}`);
    return { ...execution, tasks: await this.tasks.tasksOf(id), ...(await this.outcomes.execute(id)) };
  }
}
