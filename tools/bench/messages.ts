import { linkResultWithList } from '@purple/checking/testing';

/**
 * The messages every path carries, built before the clock starts. Each is padded to the same size in bytes, so the
 * paths move the same payload; a size below a message's natural size leaves it at its natural size (reported).
 */

/** A patched Caldera's `link_result` (four detections, ATT&CK data) with its own link id, padded in its stdout. */
export function executionResult(operationId: string, linkId: string, size: number): Buffer {
  const build = (padding: number) => {
    const body = linkResultWithList(linkId);
    (body['operation'] as Record<string, unknown>)['id'] = operationId;
    const execution = body['execution'] as Record<string, unknown>;
    execution['result_data'] = JSON.stringify({ stdout: `administrator${'x'.repeat(padding)}`, stderr: '', exit_code: 0 });
    return Buffer.from(JSON.stringify(body));
  };
  return padded(build, size);
}

/** A `POST /send` body: the topic and a message carrying its number in the batch. */
export function sendBody(topic: string, batch: string, index: number, size: number): Buffer {
  return padded((padding) => Buffer.from(JSON.stringify({ topic, message: { batch, index, padding: 'x'.repeat(padding) } })), size);
}

/** Padding adds one byte per character (plain ASCII inside a JSON string), so one measurement gets it exact. */
function padded(build: (padding: number) => Buffer, size: number): Buffer {
  const natural = build(0);
  return natural.length >= size ? natural : build(size - natural.length);
}
