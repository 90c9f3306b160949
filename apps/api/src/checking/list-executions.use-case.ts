import { Injectable } from '@nestjs/common';
import { ExecutionFilter, ExecutionRepository, ExecutionRow } from '@purple/checking';
import { Page } from './page';

@Injectable()
export class ListExecutions {
  constructor(private readonly executions: ExecutionRepository) {}

  async execute(filter: ExecutionFilter): Promise<Page<ExecutionRow>> {
    return { ...(await this.executions.listExecutions(filter)), limit: filter.limit, offset: filter.offset };
  }
}
