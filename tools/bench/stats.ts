import type { BatchTimes } from './timing';

export interface LatencySummary {
  p50: number;
  p95: number;
  p99: number;
  mean: number;
  max: number;
}

export interface PathMeasurement {
  /** messages sent in the measured batch */
  messages: number;
  /** distinct messages that arrived */
  delivered: number;
  /** messages that arrived more than once (counted once in `delivered`) */
  duplicates: number;
  /** first send → last arrival */
  durationMs: number;
  /** delivered ÷ duration */
  throughputPerSecond: number;
  /** per message: arrival − send */
  latencyMs: LatencySummary;
}

/** Nearest-rank percentile of sorted values (p in 0..100). */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1];
}

export function summarise(times: BatchTimes, duplicates = 0): PathMeasurement {
  const latencies: number[] = [];
  let firstSent = Number.POSITIVE_INFINITY;
  let lastArrived = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < times.sentAt.length; i++) {
    firstSent = Math.min(firstSent, times.sentAt[i]);
    const arrived = times.arrivedAt[i];
    if (Number.isNaN(arrived)) continue;
    lastArrived = Math.max(lastArrived, arrived);
    latencies.push(arrived - times.sentAt[i]);
  }
  const sorted = Float64Array.from(latencies).sort();
  const durationMs = latencies.length > 0 ? lastArrived - firstSent : Number.NaN;
  return {
    messages: times.sentAt.length,
    delivered: latencies.length,
    duplicates,
    durationMs: round(durationMs),
    throughputPerSecond: round(latencies.length / (durationMs / 1000)),
    latencyMs: {
      p50: round(percentile(sorted, 50)),
      p95: round(percentile(sorted, 95)),
      p99: round(percentile(sorted, 99)),
      mean: round(latencies.reduce((a, b) => a + b, 0) / latencies.length),
      max: round(sorted[sorted.length - 1] ?? Number.NaN),
    },
  };
}

/** A path against the raw broker: throughput as a fraction of raw's, latencies as multiples of raw's. */
export interface RatioToRaw {
  throughput: number;
  p50: number;
  p95: number;
  p99: number;
}

export function ratioToRaw(path: PathMeasurement, raw: PathMeasurement): RatioToRaw {
  return {
    throughput: round(path.throughputPerSecond / raw.throughputPerSecond, 3),
    p50: round(path.latencyMs.p50 / raw.latencyMs.p50, 2),
    p95: round(path.latencyMs.p95 / raw.latencyMs.p95, 2),
    p99: round(path.latencyMs.p99 / raw.latencyMs.p99, 2),
  };
}

export function round(value: number, digits = 2): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
