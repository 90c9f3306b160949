import { Injectable, NotFoundException } from '@nestjs/common';
import { CheckingReadRepository, CoverageSummary, OperationRow, TechniqueSummary } from './checking-read.repository';

@Injectable()
export class GetOperation {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(operationId: string): Promise<OperationRow & CoverageSummary & { techniques: TechniqueSummary[] }> {
    const operation = await this.read.findOperation(operationId);
    if (!operation) throw new NotFoundException(`no operation ${operationId}`);
    return { ...operation, techniques: await this.read.techniqueSummaries(operationId) };
  }
}
