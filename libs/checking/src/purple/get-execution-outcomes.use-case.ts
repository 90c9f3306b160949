import { Injectable } from '@nestjs/common';
import { PurpleReadRepository } from './purple-read.repository';
import { sourceTaskResultOf } from './purple-views';
import { SourceVerdict, sourceVerdicts } from './source-outcomes';

/** One execution's outcome per source, every result as it came, and every verdict it had. */
@Injectable()
export class GetExecutionOutcomes {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(executionId: string): Promise<{ sources: SourceVerdict[]; results: Array<Record<string, unknown>>; history: Array<Record<string, unknown>> }> {
    const [rows, results, history] = await Promise.all([
      this.read.executionTaskRows(executionId),
      this.read.resultsOf(executionId),
      this.read.verdictHistory(executionId),
    ]);
    return {
      sources: sourceVerdicts(rows.filter((r) => r.task_id !== null).map(sourceTaskResultOf)),
      results,
      history: history.map((h) => ({ ...h, detection_latency_ms: h.detection_latency_ms === null ? null : Number(h.detection_latency_ms) })),
    };
  }
}
