import { Injectable, NotFoundException } from '@nestjs/common';
import { ExecutionRepository } from '@purple/checking';
import { executionsCsv } from './executions-csv';

@Injectable()
export class ExportExecutionsCsv {
  constructor(private readonly executions: ExecutionRepository) {}

  async execute(operationId: string): Promise<string> {
    if (!(await this.executions.findOperation(operationId))) throw new NotFoundException(`no operation ${operationId}`);
    return executionsCsv(await this.executions.executionsOfOperation(operationId));
  }
}
