import { Injectable, NotFoundException } from '@nestjs/common';
import { CoverageSummary, ExecutionRepository, OperationRow, TechniqueSummary } from '@purple/checking';

@Injectable()
export class GetOperation {
  constructor(private readonly executions: ExecutionRepository) {}

  async execute(operationId: string): Promise<OperationRow & CoverageSummary & { techniques: TechniqueSummary[] }> {
    const operation = await this.executions.findOperation(operationId);
    if (!operation) throw new NotFoundException(`no operation ${operationId}`);
    return { ...operation, techniques: await this.executions.techniqueSummaries(operationId) };
  }
}
