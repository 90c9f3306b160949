import { BrokerSettings, createBrokerNamespace, createTestDatabase } from '@purple/testing';
import { randomBytes } from 'node:crypto';
import { cpus } from 'node:os';
import { Cleanup } from './cleanup';
import { BenchOptions } from './options';
import { startBackbonePath } from './paths/backbone';
import { startIngestionPath } from './paths/ingestion';
import { BenchContext, BenchPath, PathName } from './paths/path';
import { startRawPath } from './paths/raw';
import { sqlConnection } from './paths/sql';
import { PathMeasurement, RatioToRaw, ratioToRaw, round, summarise } from './stats';

export interface PathReport extends PathMeasurement {
  path: PathName;
  title: string;
  messageBytes: number;
  /** throughput as a fraction of the raw broker's; latency percentiles as multiples of the raw broker's */
  vsRaw: RatioToRaw;
}

export interface BenchReport {
  startedAt: string;
  finishedAt: string;
  options: Omit<BenchOptions, 'json'>;
  environment: { node: string; cpus: number; rabbitmq: string; postgresql: string };
  /** where the run happened; both are removed when it ends */
  isolation: { brokerNamespace: string; database: string };
  paths: PathReport[];
  /** paths not measured in this run, and why */
  notRun: Array<{ path: PathName; reason: string }>;
}

const STARTERS: Record<PathName, (ctx: BenchContext) => Promise<BenchPath>> = {
  raw: startRawPath,
  ingestion: startIngestionPath,
  backbone: startBackbonePath,
};

export interface RunDependencies {
  log?: (line: string) => void;
  /** shared with a signal handler, so Ctrl-C undoes what the run set up */
  cleanup?: Cleanup;
  /** where the broker is (default: RABBITMQ_* variables, else the local broker as guest) */
  brokerSettings?: BrokerSettings;
}

/**
 * One run: a broker namespace and a database of its own (as the integration tests get them), then each path in
 * turn — its apps started, a warm-up batch, the measured batch, its apps stopped — and everything removed at the
 * end, on failure too.
 */
export async function runBenchmark(options: BenchOptions, deps: RunDependencies = {}): Promise<BenchReport> {
  const log = deps.log ?? (() => undefined);
  const cleanup = deps.cleanup ?? new Cleanup();
  const startedAt = new Date().toISOString();
  try {
    const runId = randomBytes(4).toString('hex');
    // each undo is registered before its creation finishes, so Ctrl-C in between still removes it
    const creatingBroker = createBrokerNamespace({ namespace: `bench${runId}`, settings: deps.brokerSettings });
    cleanup.add(`broker namespace bench${runId}`, async () => (await creatingBroker.catch(() => undefined))?.dispose());
    const broker = await creatingBroker;
    log(`broker namespace ${broker.namespace} provisioned`);
    const creatingDatabase = createTestDatabase();
    cleanup.add('database', async () => (await creatingDatabase.catch(() => undefined))?.drop());
    const db = await creatingDatabase;
    const sql = await sqlConnection(db.url, 'database connection', cleanup, log);
    const database = new URL(db.url).pathname.slice(1);
    log(`database ${database} migrated`);

    const ctx: BenchContext = { runId, broker, db, sql, options, cleanup, log };
    const environment = {
      node: process.version,
      cpus: cpus().length,
      rabbitmq: (await broker.management().get<{ rabbitmq_version: string }>('/api/overview')).rabbitmq_version,
      postgresql: (await sql.query<{ server_version: string }>('SHOW server_version')).rows[0].server_version,
    };

    const measured: Array<{ path: BenchPath; measurement: PathMeasurement; messageBytes: number }> = [];
    for (const name of options.paths) {
      log(`${name}: starting`);
      const path = await STARTERS[name](ctx);
      try {
        if (options.warmup > 0) {
          await path.runBatch('warmup', options.warmup);
          log(`${name}: ${options.warmup} warm-up messages through`);
        }
        const batch = await path.runBatch('measure', options.messages);
        const measurement = summarise(batch.times, batch.duplicates);
        measured.push({ path, measurement, messageBytes: round(batch.messageBytes, 0) });
        log(`${name}: ${measurement.delivered}/${measurement.messages} in ${measurement.durationMs} ms`);
      } finally {
        await path.stop();
      }
    }

    const raw = measured.find((m) => m.path.name === 'raw');
    if (!raw) throw new Error('the raw broker was not measured: there is nothing to compare with');
    return {
      startedAt,
      finishedAt: new Date().toISOString(),
      options: { messages: options.messages, size: options.size, concurrency: options.concurrency, warmup: options.warmup, paths: options.paths, logLevel: options.logLevel },
      environment,
      isolation: { brokerNamespace: broker.namespace, database },
      paths: measured.map(({ path, measurement, messageBytes }) => ({
        path: path.name,
        title: path.title,
        messageBytes,
        ...measurement,
        vsRaw: ratioToRaw(measurement, raw.measurement),
      })),
      notRun: (['ingestion', 'backbone'] as const)
        .filter((p) => !options.paths.includes(p))
        .map((path) => ({ path, reason: 'not requested (--paths)' })),
    };
  } finally {
    const failed = await cleanup.run();
    for (const line of failed) log(`cleanup failed: ${line}`);
  }
}

/** The report as a table, then one line per path against the raw broker. */
export function formatReport(report: BenchReport): string {
  const header = ['path', 'messages', 'delivered', 'bytes', 'msg/s', 'p50 ms', 'p95 ms', 'p99 ms', 'max ms', 'msg/s ×raw', 'p50 ×raw', 'p95 ×raw', 'p99 ×raw'];
  const rows = report.paths.map((p) => [
    p.path,
    String(p.messages),
    String(p.delivered),
    String(p.messageBytes),
    p.throughputPerSecond.toFixed(1),
    p.latencyMs.p50.toFixed(1),
    p.latencyMs.p95.toFixed(1),
    p.latencyMs.p99.toFixed(1),
    p.latencyMs.max.toFixed(1),
    `${p.vsRaw.throughput.toFixed(3)}×`,
    `${p.vsRaw.p50.toFixed(2)}×`,
    `${p.vsRaw.p95.toFixed(2)}×`,
    `${p.vsRaw.p99.toFixed(2)}×`,
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  const { options, environment } = report;
  return [
    `${options.messages} messages of ${options.size} bytes per path, concurrency ${options.concurrency}, warm-up ${options.warmup}; ` +
      `RabbitMQ ${environment.rabbitmq}, PostgreSQL ${environment.postgresql}, Node ${environment.node}, ${environment.cpus} CPUs`,
    '',
    line(header),
    line(widths.map((w) => '-'.repeat(w))),
    ...rows.map(line),
    '',
    ...report.paths
      .filter((p) => p.path !== 'raw')
      .map((p) => `${p.path}: ${p.vsRaw.throughput.toFixed(2)}× raw throughput, p50 latency ${p.vsRaw.p50.toFixed(1)}× raw, p95 ${p.vsRaw.p95.toFixed(1)}× raw, p99 ${p.vsRaw.p99.toFixed(1)}× raw`),
    ...report.notRun.map((n) => `${n.path}: not run (${n.reason})`),
    ...report.paths.map((p) => `  ${p.path} = ${p.title}`),
  ].join('\n');
}
