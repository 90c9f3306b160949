import { Logger } from '@nestjs/common';

let onFatal: (() => void) | undefined;
let fatalRaised = false;

/** Set by `runMain`: how the process stops when the app cannot run (at once if that was already found). */
export function setFatalHandler(handler: (() => void) | undefined): void {
  onFatal = handler;
  if (fatalRaised) onFatal?.();
}

/**
 * A condition the app cannot run with (its broker objects are missing): log it once, clearly, and — in a process
 * started by `runMain` — stop through the normal shutdown path with exit code 1, so the orchestrator shows the
 * failure instead of a half-working pod. An app embedded elsewhere (a test) only logs and stays not ready.
 */
export function failFast(logger: Logger, message: string): void {
  logger.error(message);
  fatalRaised = true;
  onFatal?.();
}
