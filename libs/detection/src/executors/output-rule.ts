import { Worker } from 'node:worker_threads';
import { ConnectorError, MatchedEvent, SearchOutcome } from '../connectors/connector';

/** What a host command left: its exit code (null when it was killed) and its output (stdout, then stderr). */
export interface CommandResult {
  exitCode: number | null;
  output: string;
}

/**
 * How an executor decides "detected" from a command's result, from the task's `detection_config.match`:
 *
 * | key | meaning |
 * | --- | --- |
 * | `exit_code` | a number or a list: the exit code must be one of them |
 * | `output_matches` | a regular expression: some output line must match it (`output_flags`, e.g. `i`) |
 * | `output_contains` | a text: some output line must contain it |
 *
 * Every condition given must hold. Without `match` the rule is `{"exit_code": 0}`: the detection command (a
 * `grep`, a `Get-WinEvent` filter that exits 1 on nothing found) says by its exit code whether it found something.
 */
export interface OutputRule {
  exitCodes?: number[];
  outputPattern?: RegExp;
  outputContains?: string;
}

const MAX_PATTERN_LENGTH = 500;
/** matching lines kept as evidence */
const MAX_MATCHED_LINES = 20;
/** Each line is judged on its first this many characters. */
export const MAX_JUDGED_LINE_LENGTH = 4096;
/**
 * How long `output_matches` may run over one command's output. JavaScript's regular expressions backtrack, so a
 * pattern such as `^(\w+\s?)+$` can take exponential time on a few dozen characters: the matching runs in a worker
 * thread that is terminated at this deadline, and the worker's event loop never waits on the pattern.
 */
export const OUTPUT_MATCH_TIMEOUT_MS = 2000;
/** heap of the matching thread: the lines and the pattern's state, nothing more */
const MATCH_THREAD_HEAP_MB = 64;

/** The task's rule; a malformed one is a final error (the same task would fail the same way every time). */
export function outputRuleOf(config: Record<string, unknown> | null | undefined): OutputRule {
  const match = config?.['match'];
  if (match === undefined || match === null) return { exitCodes: [0] };
  if (typeof match !== 'object' || Array.isArray(match)) throw invalid('detection_config.match must be an object');
  const spec = match as Record<string, unknown>;
  const rule: OutputRule = {};
  if (spec['exit_code'] !== undefined) {
    const codes = Array.isArray(spec['exit_code']) ? spec['exit_code'] : [spec['exit_code']];
    if (codes.length === 0 || !codes.every((code) => Number.isInteger(code))) {
      throw invalid('detection_config.match.exit_code must be an integer or a list of integers');
    }
    rule.exitCodes = codes as number[];
  }
  if (spec['output_matches'] !== undefined) {
    const pattern = spec['output_matches'];
    const flags = spec['output_flags'] ?? '';
    if (typeof pattern !== 'string' || pattern.length === 0 || pattern.length > MAX_PATTERN_LENGTH) {
      throw invalid(`detection_config.match.output_matches must be a regular expression of 1 to ${MAX_PATTERN_LENGTH} characters`);
    }
    if (typeof flags !== 'string' || !/^[imsu]*$/.test(flags)) throw invalid('detection_config.match.output_flags may hold only i, m, s and u');
    try {
      rule.outputPattern = new RegExp(pattern, flags);
    } catch (error) {
      throw invalid(`detection_config.match.output_matches is not a valid regular expression: ${(error as Error).message}`);
    }
  }
  if (spec['output_contains'] !== undefined) {
    if (typeof spec['output_contains'] !== 'string' || spec['output_contains'] === '') {
      throw invalid('detection_config.match.output_contains must be a non-empty string');
    }
    rule.outputContains = spec['output_contains'];
  }
  if (rule.exitCodes === undefined && rule.outputPattern === undefined && rule.outputContains === undefined) {
    throw invalid('detection_config.match names no condition (exit_code, output_matches or output_contains)');
  }
  return rule;
}

/**
 * The command's result judged by the rule, as a search outcome: a match counts the matching output lines (at least
 * one), keeps them as evidence ids, and keeps the output as the raw answer. A pattern that runs past
 * `matchTimeoutMs` is stopped and the task fails with a final error saying so.
 */
export async function judgeCommandResult(
  result: CommandResult,
  rule: OutputRule,
  eventTime?: Date,
  matchTimeoutMs = OUTPUT_MATCH_TIMEOUT_MS,
): Promise<SearchOutcome> {
  const lines = result.output
    .split(/\r?\n/)
    .filter((line) => line.trim() !== '')
    .map((line) => line.slice(0, MAX_JUDGED_LINE_LENGTH));
  const exitOk = rule.exitCodes === undefined || (result.exitCode !== null && rule.exitCodes.includes(result.exitCode));
  const lineRules = rule.outputPattern !== undefined || rule.outputContains !== undefined;
  let matching = lineRules && rule.outputContains !== undefined ? lines.filter((line) => line.includes(rule.outputContains as string)) : lines;
  // the pattern runs only where it can change the verdict, and never on this thread
  if (rule.outputPattern !== undefined && exitOk && matching.length > 0) {
    matching = await linesMatching(matching, rule.outputPattern, matchTimeoutMs);
  }
  const detected = exitOk && (!lineRules || matching.length > 0);
  const events: MatchedEvent[] = detected
    ? (matching.length > 0 ? matching : ['(exit code matched)']).slice(0, MAX_MATCHED_LINES).map((line) => ({
        id: line.slice(0, 200),
        ...(eventTime && { eventTime }),
      }))
    : [];
  return {
    eventsFound: detected ? Math.max(1, matching.length) : 0,
    events,
    rawOutput: `exit code ${result.exitCode ?? 'none (killed)'}\n${result.output}`,
  };
}

/** The thread's code: plain JavaScript, so it runs the same under ts-jest and in the built app. */
const MATCH_THREAD_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const pattern = new RegExp(workerData.source, workerData.flags);
parentPort.postMessage(workerData.lines.map((line) => pattern.test(line)));
`;

/** The lines `pattern` matches, tested in a worker thread that is terminated after `timeoutMs`. */
export function linesMatching(lines: string[], pattern: RegExp, timeoutMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(MATCH_THREAD_SOURCE, {
      eval: true,
      workerData: { source: pattern.source, flags: pattern.flags, lines },
      resourceLimits: { maxOldGenerationSizeMb: MATCH_THREAD_HEAP_MB },
      stdout: true,
      stderr: true,
    });
    let settled = false;
    const settle = (finish: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      finish();
      void worker.terminate();
    };
    const deadline = setTimeout(
      () =>
        settle(() =>
          reject(
            invalid(
              `detection_config.match.output_matches did not finish within ${timeoutMs} ms on the command's output and was stopped ` +
                '(a pattern that backtracks, such as nested quantifiers like (\\w+\\s?)+, can take exponential time): simplify the pattern',
            ),
          ),
        ),
      timeoutMs,
    );
    worker.once('message', (verdicts: boolean[]) => settle(() => resolve(lines.filter((_, index) => verdicts[index]))));
    worker.once('error', (error) => settle(() => reject(invalid(`detection_config.match.output_matches could not be run: ${error.message}`))));
    worker.once('exit', (code) => settle(() => reject(invalid(`detection_config.match.output_matches could not be run (the matching thread exited with ${code})`))));
  });
}

function invalid(message: string): ConnectorError {
  return new ConnectorError(message, false);
}
