import { DetectionResponseMessage, parseIsoDateTime, parseJsonMessage, ResponseStatus, TaskStatus } from '@purple/contracts';
import { RejectedMessageError } from '../errors';
import { DEFAULT_MAX_MESSAGE_BYTES } from '../ingest/parse-instruction';

/** A detection response body, validated, or a {@link RejectedMessageError} saying why not. */
export function parseDetectionResponse(body: Buffer, maxBytes = DEFAULT_MAX_MESSAGE_BYTES): DetectionResponseMessage {
  if (body.length > maxBytes) {
    throw new RejectedMessageError([`message body is ${body.length} bytes, over the limit of ${maxBytes} bytes`]);
  }
  const parsed = parseJsonMessage(DetectionResponseMessage, body);
  if (!parsed.ok) throw new RejectedMessageError(parsed.errors, 'invalid detection response');
  return parsed.value;
}

/** What a worker's response means for its task and for the verdict. */
export interface Answer {
  status: ResponseStatus;
  detected: boolean;
  /** what the task becomes: completed (an answer) or failed (no answer possible) */
  taskStatus: Extract<TaskStatus, 'completed' | 'failed'>;
  /** why the task failed; null when completed */
  taskError: string | null;
  /** the earliest event time among the evidence, for the detection latency */
  matchedEventAt: Date | null;
  resultAt: Date;
}

/**
 * Reads a validated response. `status` is optional in the seed's format: without it, `detected` decides. With it,
 * the two must agree, since a worker saying both "detected" and "error" cannot be believed either way.
 */
export function answerOf(response: DetectionResponseMessage): Answer {
  const status: ResponseStatus = response.status ?? (response.detected ? 'detected' : 'not_detected');
  if (response.detected !== (status === 'detected')) {
    throw new RejectedMessageError([`detected is ${response.detected} but status is ${status}`], 'invalid detection response');
  }
  const answered = status === 'detected' || status === 'not_detected';
  const eventTimes = (response.evidence ?? [])
    .map((item) => parseIsoDateTime(item.event_time))
    .filter((time): time is Date => time !== undefined)
    .map((time) => time.getTime());
  return {
    status,
    detected: response.detected,
    taskStatus: answered ? 'completed' : 'failed',
    taskError: answered
      ? null
      : (response.error ??
        (status === 'unsupported'
          ? `no connector for ${response.detection_type} platform ${response.platform}`
          : 'the worker reported an error without a reason')),
    matchedEventAt: eventTimes.length > 0 ? new Date(Math.min(...eventTimes)) : null,
    // validation guarantees the timestamp parses
    resultAt: parseIsoDateTime(response.timestamp) as Date,
  };
}
