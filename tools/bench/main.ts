import { brokerSettings } from '@purple/testing';
import { writeFileSync } from 'node:fs';
import { loadDevEnv } from '../env';
import { formatReport, runBenchmark } from './bench';
import { Cleanup } from './cleanup';
import { USAGE, UsageError, parseOptions } from './options';

/** `npm run bench -- [options]`: the table on stdout, progress on stderr, the report as JSON with --json. */
async function main(argv: string[]): Promise<number> {
  let options;
  try {
    options = parseOptions(argv);
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n\n${USAGE}`);
    return 2;
  }
  if (options.help) {
    console.log(USAGE);
    return 0;
  }

  const cleanup = new Cleanup();
  const log = (line: string) => console.error(`bench: ${line}`);
  // Ctrl-C or SIGTERM: undo what the run set up (apps, namespace, database), then stop; a second signal stops at once
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      log(`${signal}: cleaning up`);
      void cleanup.run().then((failed) => {
        for (const line of failed) log(`cleanup failed: ${line}`);
        process.exit(130);
      });
    });
  }

  const report = await runBenchmark(options, { log, cleanup, brokerSettings: brokerSettings(loadDevEnv()) });
  console.log(formatReport(report));
  if (options.json) {
    writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    log(`report written to ${options.json}`);
  }
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (error: unknown) => {
    console.error(`bench: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
