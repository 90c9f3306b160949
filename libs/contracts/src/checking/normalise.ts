import { LINK_RESULT_MESSAGE_TYPE } from '../constants';
import { parseIsoDateTime } from '../decorators';
import { parseJson, validateMessage, ValidationResult } from '../validation';
import { ExecutionResultMessage } from './execution-result';
import { LinkResultMessage, LinkOutput } from './link-result';
import { NormalisedDetection, readDetections, RejectedDetection } from './normalise-detections';

/** The one internal form both execution-result shapes are turned into. */
export interface NormalisedExecution {
  operationId: string;
  operationName?: string;
  /** Caldera's link id, when the producer sent one. */
  linkId?: string;
  /** The producer's own execution id (seed shape `execution_id`), when sent. */
  executionId?: string;
  /** '' when the producer sent only the paw */
  agentHost: string;
  /** '' when the producer sent only the host */
  agentPaw: string;
  command: string;
  /** `exitCode` is null when the producer did not report one (a link_result may omit it). */
  result: { stdout: string; stderr: string; exitCode: number | null };
  executedAt: Date;
  attack?: { tactic?: string; techniqueId?: string; techniqueName?: string };
  detections: NormalisedDetection[];
  /** Detection entries that cannot run, each with its reason: they become rejected tasks. */
  rejectedDetections: RejectedDetection[];
}

export type ExecutionMessage = ExecutionResultMessage | LinkResultMessage;

/**
 * Validates an execution result of either shape: LinkResultMessage when
 * `message_type === 'link_result'`, else the seed's ExecutionResultMessage.
 * A Buffer or string is parsed as JSON first.
 */
export function parseExecutionMessage(payload: unknown): ValidationResult<ExecutionMessage> {
  if (typeof payload === 'string' || payload instanceof Uint8Array) {
    const parsed = parseJson(payload);
    if (!parsed.ok) return parsed;
    payload = parsed.value;
  }
  const isLinkResult =
    typeof payload === 'object' &&
    payload !== null &&
    (payload as Record<string, unknown>)['message_type'] === LINK_RESULT_MESSAGE_TYPE;
  return isLinkResult ? validateMessage(LinkResultMessage, payload) : validateMessage(ExecutionResultMessage, payload);
}

export function isLinkResultMessage(message: ExecutionMessage): message is LinkResultMessage {
  return (message as LinkResultMessage).message_type === LINK_RESULT_MESSAGE_TYPE;
}

function toDate(value: string): Date {
  const date = parseIsoDateTime(value);
  // Validation guarantees a parseable value; this guards against callers skipping it.
  if (!date) throw new Error(`not an ISO-8601 date-time: ${value}`);
  return date;
}

function attackOf(tactic?: string, techniqueId?: string, techniqueName?: string): NormalisedExecution['attack'] {
  if (tactic == null && techniqueId == null && techniqueName == null) return undefined;
  return {
    ...(tactic != null && { tactic }),
    ...(techniqueId != null && { techniqueId }),
    ...(techniqueName != null && { techniqueName }),
  };
}

function outputOf(resultData: LinkOutput | string | null | undefined): NormalisedExecution['result'] {
  if (typeof resultData === 'string') return { stdout: resultData, stderr: '', exitCode: null };
  return { stdout: resultData?.stdout ?? '', stderr: resultData?.stderr ?? '', exitCode: resultData?.exit_code ?? null };
}

/**
 * Turns a validated execution result of either shape into the internal form.
 * Pure: the message is not modified. Optional fields absent from the message are absent here too.
 */
export function normaliseExecution(message: ExecutionMessage): NormalisedExecution {
  if (isLinkResultMessage(message)) {
    const { operation, execution } = message;
    const detections = readDetections(execution.detections ?? message.detections);
    const normalised: NormalisedExecution = {
      operationId: operation.id ?? (operation.operation_id as string),
      ...(operation.name != null && { operationName: operation.name }),
      ...(execution.link_id != null && { linkId: execution.link_id }),
      agentHost: execution.agent_host ?? '',
      agentPaw: execution.agent_paw ?? '',
      command: execution.command,
      result: outputOf(execution.result_data),
      executedAt: toDate(execution.agent_reported_time ?? message.timestamp),
      detections: detections.usable,
      rejectedDetections: detections.rejected,
    };
    const attack = attackOf(
      execution.tactic ?? message.tactic,
      execution.technique_id ?? message.technique_id,
      execution.technique_name ?? message.technique_name,
    );
    return attack ? { ...normalised, attack } : normalised;
  }

  const detections = readDetections(message.detections);
  const normalised: NormalisedExecution = {
    operationId: message.operation_id,
    ...(message.link_id != null && { linkId: message.link_id }),
    ...(message.execution_id != null && { executionId: message.execution_id }),
    agentHost: message.agent_host ?? '',
    agentPaw: message.agent_paw ?? '',
    command: message.command,
    result: { stdout: message.result.stdout, stderr: message.result.stderr, exitCode: message.result.exit_code },
    executedAt: toDate(message.timestamp),
    detections: detections.usable,
    rejectedDetections: detections.rejected,
  };
  const attack = attackOf(message.tactic, message.technique_id, message.technique_name);
  return attack ? { ...normalised, attack } : normalised;
}
