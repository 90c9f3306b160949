import { Injectable, NotFoundException } from '@nestjs/common';
import { CheckingReadRepository } from './checking-read.repository';
import { executionsCsv } from './executions-csv';

@Injectable()
export class ExportExecutionsCsv {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(operationId: string): Promise<string> {
    if (!(await this.read.findOperation(operationId))) throw new NotFoundException(`no operation ${operationId}`);
    return executionsCsv(await this.read.executionsOfOperation(operationId));
  }
}
