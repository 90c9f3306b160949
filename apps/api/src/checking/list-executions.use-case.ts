import { Injectable } from '@nestjs/common';
import { CheckingReadRepository, ExecutionFilter, ExecutionRow } from './checking-read.repository';
import { Page } from './page';

@Injectable()
export class ListExecutions {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(filter: ExecutionFilter): Promise<Page<ExecutionRow>> {
    return { ...(await this.read.listExecutions(filter)), limit: filter.limit, offset: filter.offset };
  }
}
