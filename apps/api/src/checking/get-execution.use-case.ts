import { Injectable, NotFoundException } from '@nestjs/common';
import { GetExecutionOutcomes, UUID_PATTERN } from '@purple/checking';
import { CheckingReadRepository, ExecutionRow, TaskRow } from './checking-read.repository';

@Injectable()
export class GetExecution {
  constructor(
    private readonly read: CheckingReadRepository,
    private readonly outcomes: GetExecutionOutcomes,
  ) {}

  async execute(id: string): Promise<ExecutionRow & { tasks: TaskRow[] } & Awaited<ReturnType<GetExecutionOutcomes['execute']>>> {
    const execution = UUID_PATTERN.test(id) ? await this.read.findExecution(id) : null;
    if (!execution) throw new NotFoundException(`no execution ${id}`);
    return { ...execution, tasks: await this.read.tasksOf(id), ...(await this.outcomes.execute(id)) };
  }
}
