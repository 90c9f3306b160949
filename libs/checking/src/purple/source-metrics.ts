import { histogram } from '@purple/platform';
import { techniqueLabel } from '../results/task-processing-metric';

const BUCKETS = [1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600];

const sourceDetectionLatency = histogram(
  'purple_source_detection_latency_seconds',
  'Time to detect per source (connector) and ATT&CK technique: matched event time, else answer time, minus execution time',
  ['source', 'technique_id'],
  BUCKETS,
);
const sourceIngestionDelay = histogram(
  'purple_source_ingestion_delay_seconds',
  "A source's ingestion delay seen by a detection: when the worker found the event minus the event's time",
  ['source'],
  BUCKETS,
);

export interface SourceObservation {
  source: string;
  techniqueId: string | null;
  latencyMs: number | null;
  ingestionDelayMs: number | null;
}

/** Observed once a detection is committed (like the task processing time), so a redelivery is not counted twice. */
export function observeSourceDetection(o: SourceObservation): void {
  if (o.latencyMs !== null) sourceDetectionLatency.observe({ source: o.source, technique_id: techniqueLabel(o.techniqueId) }, o.latencyMs / 1000);
  if (o.ingestionDelayMs !== null) sourceIngestionDelay.observe({ source: o.source }, o.ingestionDelayMs / 1000);
}
