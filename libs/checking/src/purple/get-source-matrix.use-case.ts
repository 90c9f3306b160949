import { Injectable } from '@nestjs/common';
import { PurpleReadRepository } from './purple-read.repository';
import { executionViewsOf, OperationNotFoundError } from './purple-views';
import { sourceMatrix, TechniqueMatrix } from './source-outcomes';

/** An operation's sources × outcomes matrix per technique, naming where sources disagree. */
@Injectable()
export class GetSourceMatrix {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(operationId: string): Promise<{ operation_id: string; disagreements: string[]; techniques: TechniqueMatrix[] }> {
    if (!(await this.read.operationExists(operationId))) throw new OperationNotFoundError(operationId);
    const techniques = sourceMatrix(executionViewsOf(await this.read.operationTaskRows(operationId)));
    return {
      operation_id: operationId,
      disagreements: techniques.filter((t) => t.disagreement).map((t) => t.technique_id ?? '(no technique)'),
      techniques,
    };
  }
}
