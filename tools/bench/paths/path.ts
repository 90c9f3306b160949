import { ServiceProcess, startServiceProcess } from '@purple/detection/testing';
import type { BrokerNamespace, TestDatabase } from '@purple/testing';
import type { Client } from 'pg';
import type { Cleanup } from '../cleanup';
import type { BenchOptions } from '../options';
import type { BatchTimes } from '../timing';

export type PathName = 'raw' | 'ingestion' | 'backbone';

/** What every path gets: the run's own broker namespace and database, its options, and its cleanup. */
export interface BenchContext {
  /** distinguishes this run's messages (link ids, batches) */
  runId: string;
  broker: BrokerNamespace;
  db: TestDatabase;
  sql: Client;
  options: BenchOptions;
  cleanup: Cleanup;
  log: (line: string) => void;
}

export interface BatchResult {
  times: BatchTimes;
  duplicates: number;
  /** the size of each message's body in bytes (the mean, if they differ) */
  messageBytes: number;
}

/** One way through the system, set up and ready: sends a batch and waits until every message of it arrived. */
export interface BenchPath {
  readonly name: PathName;
  readonly title: string;
  runBatch(batch: string, count: number): Promise<BatchResult>;
  /** stops what the path started (its apps), before the next path runs; cleanup covers it too */
  stop(): Promise<void>;
}

export const meanLength = (bodies: Buffer[]) => bodies.reduce((total, b) => total + b.length, 0) / Math.max(1, bodies.length);

/**
 * Starts an app in a process of its own (resolving once /health/ready answers). Its cleanup is registered before
 * the start finishes, so Ctrl-C during a start still stops the process once it is up.
 */
export function startApp(ctx: BenchContext, app: string, env: Record<string, string>): Promise<ServiceProcess> {
  const starting = startServiceProcess(app, env, 120_000, ctx.cleanup.signal);
  ctx.cleanup.add(`${app} process`, async () => (await starting.catch(() => undefined))?.stop());
  return starting;
}
