import type { PathName } from './paths/path';

export interface BenchOptions {
  /** messages measured per path */
  messages: number;
  /** body size in bytes (a message smaller than its natural size keeps that size) */
  size: number;
  /** messages in the system at once (sent, not yet arrived at the far end), on every path */
  concurrency: number;
  /** messages sent through each path first and not measured (connections, JIT, the router picking up clients) */
  warmup: number;
  /** the paths to measure besides the raw broker, which is always measured: ratios need it */
  paths: PathName[];
  /** LOG_LEVEL of the apps under test (info, as in production) */
  logLevel: string;
  /** where to write the report as JSON */
  json?: string;
}

export const DEFAULT_OPTIONS: BenchOptions = {
  messages: 2000,
  size: 2048,
  concurrency: 20,
  warmup: 100,
  paths: ['raw', 'ingestion', 'backbone'],
  logLevel: 'info',
};

export const USAGE = `usage: npm run bench -- [--messages N] [--size BYTES] [--concurrency N] [--warmup N]
                        [--paths raw,ingestion,backbone] [--log-level LEVEL] [--json FILE]

Measures, in one run on one broker, the raw broker (amqplib → quorum queue → amqplib), the checking engine's
ingestion (caldera_publisher → caldera-consumer → PostgreSQL) and the backbone (POST /send → api → bus-router →
inbox), and reports each against the raw broker. Defaults: ${DEFAULT_OPTIONS.messages} messages of ${DEFAULT_OPTIONS.size} bytes,
concurrency ${DEFAULT_OPTIONS.concurrency}, warm-up ${DEFAULT_OPTIONS.warmup}.`;

export class UsageError extends Error {}

const PATHS: PathName[] = ['raw', 'ingestion', 'backbone'];

/** Reads the command line; throws {@link UsageError} naming what is wrong. */
export function parseOptions(argv: string[]): BenchOptions & { help: boolean } {
  const options = { ...DEFAULT_OPTIONS, help: false };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    const count = (min: number) => {
      const v = value();
      const n = Number(v);
      if (!Number.isInteger(n) || n < min) throw new UsageError(`${flag} must be a whole number ≥ ${min} (got ${v})`);
      return n;
    };
    switch (flag) {
      case '--messages':
        options.messages = count(1);
        break;
      case '--size':
        options.size = count(1);
        break;
      case '--concurrency':
        options.concurrency = count(1);
        break;
      case '--warmup':
        options.warmup = count(0);
        break;
      case '--paths': {
        const names = value().split(',').map((p) => p.trim()).filter(Boolean);
        const unknown = names.filter((p) => !PATHS.includes(p as PathName));
        if (unknown.length > 0) throw new UsageError(`--paths: unknown ${unknown.join(', ')} (known: ${PATHS.join(', ')})`);
        options.paths = PATHS.filter((p) => p === 'raw' || names.includes(p));
        break;
      }
      case '--log-level':
        options.logLevel = value();
        break;
      case '--json':
        options.json = value();
        break;
      case '--help':
      case '-h':
        options.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${flag}`);
    }
  }
  return options;
}
