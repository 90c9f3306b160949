import { Injectable } from '@nestjs/common';
import { CheckingReadRepository, CoverageSummary, OperationRow } from './checking-read.repository';
import { Page } from './page';

@Injectable()
export class ListOperations {
  constructor(private readonly read: CheckingReadRepository) {}

  async execute(limit: number, offset: number): Promise<Page<OperationRow & CoverageSummary>> {
    return { ...(await this.read.listOperations(limit, offset)), limit, offset };
  }
}
