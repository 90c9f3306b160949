/**
 * `npm run checking:compare -- A B [--fail-on regressions] [--latency-threshold-ms N] [--json]`: compares run B
 * with the baseline run A (Caldera operation ids) from the database (DATABASE_URL, else API_DATABASE_URL: the api's role suffices),
 * prints what changed, and exits 1 with `--fail-on regressions` when anything regressed (2 on a usage error or a
 * missing operation). For pipelines: run an adversary profile nightly, then compare it with last week's run.
 */
import 'reflect-metadata';
import { CompareOperations, OperationComparison, OperationNotFoundError, PurpleReadRepository } from '@purple/checking';
import { dataSourceOptions } from '@purple/persistence';
import { DataSource } from 'typeorm';
import { loadDevEnv } from '../env';

export interface CompareArgs {
  a: string;
  b: string;
  failOnRegressions: boolean;
  latencyThresholdMs: number;
  json: boolean;
}

export function parseArgs(argv: string[]): CompareArgs {
  const positional: string[] = [];
  let failOnRegressions = false;
  let latencyThresholdMs = 60_000;
  let json = false;
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--fail-on') {
      if (argv[i + 1] !== 'regressions') throw new Error('--fail-on takes "regressions"');
      failOnRegressions = true;
      i += 1;
    } else if (arg === '--latency-threshold-ms') {
      latencyThresholdMs = Number(argv[i + 1]);
      if (!Number.isInteger(latencyThresholdMs) || latencyThresholdMs < 0) throw new Error('--latency-threshold-ms takes a whole number of ms');
      i += 1;
    } else if (arg === '--json') json = true;
    else if (arg.startsWith('--')) throw new Error(`unknown option ${arg}`);
    else positional.push(arg);
  }
  if (positional.length !== 2) throw new Error('usage: checking:compare -- <baseline operation> <operation> [--fail-on regressions] [--latency-threshold-ms N] [--json]');
  return { a: positional[0], b: positional[1], failOnRegressions, latencyThresholdMs, json };
}

export function formatComparison(c: OperationComparison): string {
  const s = c.summary;
  const lines = [
    `${c.b} against ${c.a}: ${s.regressions} regression(s): ${s.newly_missed} newly missed, ${s.source_regressions} newly missed by a source, ${s.latency_worse} slower by more than ${c.latency_threshold_ms} ms; ${s.newly_detected} newly detected, ${s.still_missed} still missed, ${s.still_detected} still detected`,
  ];
  for (const i of c.items) {
    const sources = i.sources.filter((x) => x.change !== 'still_detected').map((x) => `${x.source} ${x.change}`);
    lines.push(
      `${i.regression ? 'REGRESSION ' : ''}${i.technique_id ?? '(no technique)'} on ${i.host}: ${i.change}` +
        (i.latency_worse ? ` (latency ${i.latency_a_ms} → ${i.latency_b_ms} ms)` : '') +
        (sources.length > 0 ? ` [${sources.join(', ')}]` : ''),
    );
  }
  return lines.join('\n');
}

async function main(): Promise<number> {
  let args: CompareArgs;
  try {
    args = parseArgs(process.argv.slice(2));
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    return 2;
  }
  // any role that may read the checking tables: the api's suffices
  const env = loadDevEnv();
  const url = env['DATABASE_URL'] ?? env['API_DATABASE_URL'];
  if (!url) {
    process.stderr.write('DATABASE_URL (or API_DATABASE_URL) is required\n');
    return 2;
  }
  const db = new DataSource(dataSourceOptions(url));
  await db.initialize();
  try {
    const comparison = await new CompareOperations(new PurpleReadRepository(db)).execute(args.a, args.b, args.latencyThresholdMs);
    process.stdout.write(`${args.json ? JSON.stringify(comparison, null, 2) : formatComparison(comparison)}\n`);
    return args.failOnRegressions && comparison.summary.regressions > 0 ? 1 : 0;
  } catch (error) {
    if (error instanceof OperationNotFoundError) {
      process.stderr.write(`${error.message}\n`);
      return 2;
    }
    throw error;
  } finally {
    await db.destroy();
  }
}

if (require.main === module) {
  main().then(
    (code) => process.exit(code),
    (error) => {
      process.stderr.write(`checking:compare failed: ${(error as Error).message}\n`);
      process.exit(2);
    },
  );
}
