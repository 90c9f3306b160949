import { Injectable } from '@nestjs/common';
import { percentile } from './learned-delay';
import { IngestionDelayRow, PurpleReadRepository } from './purple-read.repository';
import { latencyOf, OperationNotFoundError } from './purple-views';

export interface TimeToDetect {
  operation_id: string | null;
  sources: Array<{ source: string; samples: number; p50_ms: number; p90_ms: number }>;
  techniques: Array<{ source: string; technique_id: string | null; samples: number; p50_ms: number; p90_ms: number }>;
  /** what the dispatcher learns initial delays from: each source's match time minus event time */
  ingestion_delays: IngestionDelayRow[];
}

/** the latest detections time to detect is computed over */
const TIME_TO_DETECT_SAMPLES = 10_000;

/** p50/p90 time to detect per source and per source and technique, and each source's learned ingestion delay. */
@Injectable()
export class GetTimeToDetect {
  constructor(private readonly read: PurpleReadRepository) {}

  async execute(operationId?: string): Promise<TimeToDetect> {
    if (operationId !== undefined && !(await this.read.operationExists(operationId))) throw new OperationNotFoundError(operationId);
    const rows = await this.read.detectedTaskRows(operationId, TIME_TO_DETECT_SAMPLES);
    const stats = (values: number[]) => ({
      samples: values.length,
      p50_ms: Math.round(percentile(values, 0.5) as number),
      p90_ms: Math.round(percentile(values, 0.9) as number),
    });
    const bySource = new Map<string, number[]>();
    const byTechnique = new Map<string, { source: string; technique_id: string | null; values: number[] }>();
    for (const row of rows) {
      const latency = latencyOf(row);
      if (latency === null || row.connector === null) continue;
      bySource.set(row.connector, [...(bySource.get(row.connector) ?? []), latency]);
      const key = `${row.connector}\u0000${row.technique_id ?? ''}`;
      const entry = byTechnique.get(key) ?? { source: row.connector, technique_id: row.technique_id, values: [] };
      entry.values.push(latency);
      byTechnique.set(key, entry);
    }
    return {
      operation_id: operationId ?? null,
      sources: [...bySource.entries()].sort(([x], [y]) => x.localeCompare(y)).map(([source, values]) => ({ source, ...stats(values) })),
      techniques: [...byTechnique.values()]
        .sort((x, y) => x.source.localeCompare(y.source) || (x.technique_id ?? '').localeCompare(y.technique_id ?? ''))
        .map(({ source, technique_id, values }) => ({ source, technique_id, ...stats(values) })),
      ingestion_delays: await this.read.ingestionDelays(500),
    };
  }
}
