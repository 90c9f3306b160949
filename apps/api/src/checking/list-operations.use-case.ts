import { Injectable } from '@nestjs/common';
import { CoverageSummary, ExecutionRepository, OperationRow } from '@purple/checking';
import { Page } from './page';

@Injectable()
export class ListOperations {
  constructor(private readonly executions: ExecutionRepository) {}

  async execute(limit: number, offset: number): Promise<Page<OperationRow & CoverageSummary>> {
    return { ...(await this.executions.listOperations(limit, offset)), limit, offset };
  }
}
