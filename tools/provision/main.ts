import { runProvisionCli } from './provision';

runProvisionCli(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`provision: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
