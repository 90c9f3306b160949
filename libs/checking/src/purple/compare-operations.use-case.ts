import { Injectable } from '@nestjs/common';
import { Comparison, compareRuns, RunExecution } from './compare-runs';
import { PurpleReadRepository } from './purple-read.repository';
import { executionViewsOf, OperationNotFoundError } from './purple-views';

export interface OperationComparison extends Comparison {
  a: string;
  b: string;
}

/** Run `a` (the baseline) against run `b`: what was lost, gained, still missed, and slower, per technique and source. */
@Injectable()
export class CompareOperations {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(a: string, b: string, latencyThresholdMs: number): Promise<OperationComparison> {
    for (const id of [a, b]) if (!(await this.read.operationExists(id))) throw new OperationNotFoundError(id);
    const run = async (id: string): Promise<RunExecution[]> =>
      executionViewsOf(await this.read.operationTaskRows(id)).map((e) => ({
        techniqueId: e.techniqueId,
        techniqueName: e.techniqueName,
        abilityId: null,
        command: e.command,
        host: e.host,
        verdict: e.verdict,
        latencyMs: e.latencyMs,
        sources: e.sources.map((s) => ({ source: s.source, outcome: s.outcome })),
      }));
    return { a, b, ...compareRuns(await run(a), await run(b), { latencyThresholdMs }) };
  }
}
