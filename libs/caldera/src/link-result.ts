import { integerOf } from './link';

/** A link's output as the `link_result` message carries it. */
export interface LinkOutput {
  stdout: string;
  stderr: string;
  /** absent when the agent did not report one */
  exit_code?: number;
}

/** Caldera answered something that is not a link result; the message says what. */
export class CalderaFormatError extends Error {}

const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/**
 * A link's result (`GET …/links/{link_id}/result` → `result`). Caldera 4.1 and later store `{"stdout", "stderr",
 * "exit_code"}` as JSON before encoding it (exit_code a string, empty when the agent does not report one); older
 * servers store the output itself. Undefined for '' (the command printed nothing); throws
 * {@link CalderaFormatError} when the text is not base64.
 */
export function linkOutputOf(result: string): LinkOutput | undefined {
  const encoded = result.replace(/\s+/g, '');
  if (encoded === '') return undefined;
  if (!BASE64.test(encoded)) throw new CalderaFormatError('the link result is not base64');
  const decoded = Buffer.from(encoded, 'base64').toString('utf8');
  const structured = structuredResultOf(decoded);
  if (structured === undefined) return { stdout: decoded, stderr: '' };
  const exitCode = integerOf(structured['exit_code']);
  return {
    stdout: textOf(structured['stdout']),
    stderr: textOf(structured['stderr']),
    ...(exitCode !== undefined && { exit_code: exitCode }),
  };
}

function structuredResultOf(decoded: string): Record<string, unknown> | undefined {
  if (!decoded.trimStart().startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(decoded);
    if (typeof value !== 'object' || value === null || Array.isArray(value)) return undefined;
    const fields = value as Record<string, unknown>;
    // a command that printed JSON of its own on an old server is output, not Caldera's envelope
    return 'stdout' in fields && ('stderr' in fields || 'exit_code' in fields) ? fields : undefined;
  } catch {
    return undefined;
  }
}

function textOf(value: unknown): string {
  return typeof value === 'string' ? value : value === undefined || value === null ? '' : JSON.stringify(value);
}
