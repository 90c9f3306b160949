import { TEST_DATABASE_SERVER, brokerSettings, createTestDatabase, eventually } from '@purple/testing';
import { ManagementClient } from '@purple/topology';
import { readdirSync, readFileSync } from 'node:fs';
import { Client } from 'pg';
import { BenchReport, formatReport, runBenchmark } from './bench';
import { Cleanup, InterruptedError } from './cleanup';
import { DEFAULT_OPTIONS, UsageError, parseOptions } from './options';
import { sqlConnection } from './paths/sql';
import { percentile } from './stats';

/**
 * The benchmark with tiny numbers, against the real broker and database: every path set up for real, every message
 * accounted for, and nothing left behind. Timings are not asserted (this machine is shared); their shape is.
 */
const settings = brokerSettings();
const management = new ManagementClient({ url: settings.managementUrl, username: settings.adminUser, password: settings.adminPassword });

const vhostsOf = async (namespace: string) =>
  (await management.get<Array<{ name: string }>>('/api/vhosts')).map((v) => v.name).filter((name) => name.endsWith(`.${namespace}`));
const usersOf = async (namespace: string) =>
  (await management.get<Array<{ name: string }>>('/api/users')).map((u) => u.name).filter((name) => name.startsWith(`${namespace}_`));

async function databaseExists(name: string): Promise<boolean> {
  const client = new Client({ connectionString: `${TEST_DATABASE_SERVER}/postgres` });
  await client.connect();
  try {
    return ((await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name])).rowCount ?? 0) > 0;
  } finally {
    await client.end();
  }
}

/** Processes started with this broker namespace in their environment (the apps under test). */
function processesIn(namespace: string): number[] {
  return readdirSync('/proc')
    .filter((entry) => /^\d+$/.test(entry))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/environ`, 'utf8').split('\0').includes(`BROKER_NAMESPACE=${namespace}`);
      } catch {
        return false; // gone meanwhile, or not ours to read
      }
    })
    .map(Number);
}

describe('bench (real broker and database)', () => {
  it('measures the raw broker, ingestion and the backbone on 50 messages each, every one delivered, then cleans up', async () => {
    const lines: string[] = [];
    const report: BenchReport = await runBenchmark(
      { ...DEFAULT_OPTIONS, messages: 50, warmup: 5, concurrency: 5, size: 2048 },
      { log: (line) => lines.push(line) },
    );

    expect(report.paths.map((p) => p.path)).toEqual(['raw', 'ingestion', 'backbone']);
    expect(report.notRun).toEqual([]);
    for (const path of report.paths) {
      expect(path).toMatchObject({ messages: 50, delivered: 50, duplicates: 0, messageBytes: 2048 });
      for (const value of [path.durationMs, path.throughputPerSecond, ...Object.values(path.latencyMs), ...Object.values(path.vsRaw)]) {
        expect(Number.isFinite(value)).toBe(true);
        expect(value).toBeGreaterThan(0);
      }
      expect(path.latencyMs.p50).toBeLessThanOrEqual(path.latencyMs.p95);
      expect(path.latencyMs.p95).toBeLessThanOrEqual(path.latencyMs.p99);
      expect(path.latencyMs.p99).toBeLessThanOrEqual(path.latencyMs.max);
    }
    expect(report.paths[0].vsRaw).toEqual({ throughput: 1, p50: 1, p95: 1, p99: 1 });
    expect(report.environment.rabbitmq).toMatch(/^\d+\.\d+/);
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);

    const table = formatReport(report);
    expect(table).toMatch(/^raw\s+50\s+50\s+2048\s/m);
    expect(table).toMatch(/^ingestion: [\d.]+× raw throughput, p50 latency [\d.]+× raw, p95 [\d.]+× raw, p99 [\d.]+× raw$/m);
    expect(table).toMatch(/^backbone: [\d.]+× raw throughput/m);

    const { brokerNamespace, database } = report.isolation;
    expect(brokerNamespace).toMatch(/^bench[0-9a-f]{8}$/);
    expect(await vhostsOf(brokerNamespace)).toEqual([]);
    expect(await usersOf(brokerNamespace)).toEqual([]);
    expect(await databaseExists(database)).toBe(false);
    expect(processesIn(brokerNamespace)).toEqual([]);
    expect(lines.filter((line) => line.startsWith('cleanup failed'))).toEqual([]);
  }, 300_000);

  // Cleanup is started at two well-defined moments (not after a delay): while the caldera-consumer is still starting,
  // and once it is ready with the bench's broker and database connections open.
  it.each([
    ['while an app is starting', 'ingestion: starting'],
    ['while an app, connections, the namespace and the database all exist', 'ingestion: caldera-consumer ready, publisher and listener connected'],
  ])('undoes everything when cleanup runs in the middle of a run, %s (what Ctrl-C does)', async (_moment, interruptAt) => {
    const cleanup = new Cleanup();
    let namespace = '';
    let database = '';
    let interrupted: Promise<string[]> | undefined;
    const log = (line: string) => {
      namespace ||= /^broker namespace (\S+) provisioned$/.exec(line)?.[1] ?? '';
      database ||= /^database (\S+) migrated$/.exec(line)?.[1] ?? '';
      if (line === interruptAt) interrupted = cleanup.run();
    };
    const run = runBenchmark({ ...DEFAULT_OPTIONS, messages: 20, warmup: 0, concurrency: 5, paths: ['raw', 'ingestion'] }, { log, cleanup });

    await expect(run).rejects.toThrow();
    expect(interrupted).toBeDefined();
    expect(await interrupted).toEqual([]);
    expect(namespace).not.toBe('');
    expect(await vhostsOf(namespace)).toEqual([]);
    expect(await databaseExists(database)).toBe(false);
    expect(processesIn(namespace)).toEqual([]);
  }, 300_000);
});

describe('bench cleanup', () => {
  it('undoes at once what is set up after cleanup began, stops the caller, and waits for it before resolving', async () => {
    const cleanup = new Cleanup();
    const order: string[] = [];
    let releaseDrop: () => void = () => undefined;
    cleanup.add('database', () => new Promise<void>((resolve) => (releaseDrop = () => (order.push('database dropped'), resolve()))));
    const done = cleanup.run();
    expect(cleanup.signal.aborted).toBe(true);

    // a connection opened while the database is being dropped is closed now, not after the drop
    expect(() => cleanup.add('late connection', async () => void order.push('late connection closed'))).toThrow(InterruptedError);
    await new Promise((r) => setImmediate(r));
    expect(order).toEqual(['late connection closed']);

    releaseDrop();
    expect(await done).toEqual([]);
    expect(order).toEqual(['late connection closed', 'database dropped']);
  });

  it("keeps a run's database connection alive through its database being dropped under it, logging the error", async () => {
    const cleanup = new Cleanup();
    const db = await createTestDatabase();
    const lines: string[] = [];
    const client = await sqlConnection(db.url, 'probe connection', cleanup, (line) => lines.push(line));
    await db.drop(); // terminates the session: without a listener, pg would throw it at the process

    await eventually(async () => lines.length > 0);
    expect(lines).toContain('probe connection: terminating connection due to administrator command');
    await expect(client.query('SELECT 1')).rejects.toThrow();
    expect(await cleanup.run()).toEqual([]);
  });
});

describe('bench options and statistics', () => {
  it('reads the command line and names what is wrong', () => {
    expect(parseOptions(['--messages', '500', '--size', '4096', '--concurrency', '8', '--json', 'out.json'])).toMatchObject({
      messages: 500,
      size: 4096,
      concurrency: 8,
      json: 'out.json',
      paths: ['raw', 'ingestion', 'backbone'],
    });
    expect(parseOptions(['--paths', 'ingestion']).paths).toEqual(['raw', 'ingestion']);
    expect(() => parseOptions(['--messages', 'many'])).toThrow(new UsageError('--messages must be a whole number ≥ 1 (got many)'));
    expect(() => parseOptions(['--paths', 'raw,carrier-pigeon'])).toThrow('--paths: unknown carrier-pigeon');
    expect(() => parseOptions(['--size'])).toThrow('--size needs a value');
  });

  it('takes nearest-rank percentiles', () => {
    const sorted = Float64Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(sorted, 50), percentile(sorted, 95), percentile(sorted, 99), percentile(sorted, 100)]).toEqual([50, 95, 99, 100]);
    expect(percentile([7], 99)).toBe(7);
  });
});
