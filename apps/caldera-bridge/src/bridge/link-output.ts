import { CalderaFormatError, LinkOutput, linkOutputOf } from '@purple/caldera';

/** stdout and stderr are each cut to this size, so a chatty command stays far below the consumer's message limit */
export const MAX_OUTPUT_BYTES = 128 * 1024;
const TRUNCATION_MARK = '\n[truncated by caldera-bridge]';

function bounded(text: string): string {
  const bytes = Buffer.from(text, 'utf8');
  if (bytes.length <= MAX_OUTPUT_BYTES) return text;
  return bytes.subarray(0, MAX_OUTPUT_BYTES).toString('utf8') + TRUNCATION_MARK;
}

/**
 * The link's output for its `link_result` message, each stream bounded. A result that is not base64 is passed on
 * as the text Caldera gave: the execution is still worth storing, and the consumer never runs it.
 */
export function boundedOutputOf(result: string): LinkOutput | undefined {
  let output: LinkOutput | undefined;
  try {
    output = linkOutputOf(result);
  } catch (error) {
    if (!(error instanceof CalderaFormatError)) throw error;
    output = { stdout: result, stderr: '' };
  }
  return output && { ...output, stdout: bounded(output.stdout), stderr: bounded(output.stderr) };
}
