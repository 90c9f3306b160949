import { NormalisedExecution, normaliseExecution, parseExecutionMessage } from '@purple/contracts';
import { RejectedMessageError } from '../errors';

/** 1 MiB: a Caldera result with its detections is a few kilobytes; anything far larger is a mistake or an attack. */
export const DEFAULT_MAX_MESSAGE_BYTES = 1_048_576;

/**
 * An execution-result body (the seed's shape or a patched Caldera's `link_result`) in the internal form, or a
 * {@link RejectedMessageError} saying why not. The size is checked before anything is parsed.
 */
export function parseInstruction(body: Buffer, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): NormalisedExecution {
  if (body.length > maxBytes) {
    throw new RejectedMessageError([`message body is ${body.length} bytes, over the limit of ${maxBytes} bytes (MAX_MESSAGE_BYTES)`]);
  }
  const parsed = parseExecutionMessage(body);
  if (!parsed.ok) throw new RejectedMessageError(parsed.errors, 'invalid execution result');
  return normaliseExecution(parsed.value);
}
