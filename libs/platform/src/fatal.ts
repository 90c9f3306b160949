import { Logger } from '@nestjs/common';

/**
 * A condition the app cannot run with (its broker objects are missing): log it once, clearly, and stop with
 * exit code 1 through the normal shutdown path, so the orchestrator shows the failure instead of a half-working pod.
 */
export function failFast(logger: Logger, message: string): void {
  logger.error(message);
  process.exitCode = 1;
  process.kill(process.pid, 'SIGTERM');
}
