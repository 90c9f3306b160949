import { ValidateIf } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import {
  OptionalString,
  RequiredDateTime,
  RequiredInt,
  RequiredNested,
  RequiredString,
  RequiredText,
} from '../decorators';
import { Detections, DetectionsField } from './detections';
import { hasText, isGiven } from './host-or-paw';

/** What the command printed and returned. */
export class ExecutionOutput {
  /** May be empty. */
  @RequiredText()
  stdout: string;

  /** May be empty. */
  @RequiredText()
  stderr: string;

  @RequiredInt()
  exit_code: number;
}

/**
 * The seed's execution result (Caldera → `caldera.checking.instructions`, routing key
 * `caldera.execution.result`).
 *
 * Beyond the seed: optional ATT&CK fields (`tactic`, `technique_id`, `technique_name`), optional
 * `execution_id` and `link_id` (Caldera's link id; the consumer dedupes redeliveries on it).
 * `detections` is optional: an execution without detections gets the `no_detections` verdict. It may be either
 * form (the nested map or a patched Caldera's list), each entry read on its own. `agent_host` or `agent_paw` may be
 * missing, not both.
 */
@JSONSchema({ anyOf: [{ required: ['agent_host'] }, { required: ['agent_paw'] }] })
export class ExecutionResultMessage {
  @RequiredString()
  operation_id: string;

  /** Required unless `agent_paw` is given. */
  @ValidateIf((message: ExecutionResultMessage) => isGiven(message.agent_host) || !hasText(message.agent_paw))
  @RequiredString()
  agent_host?: string;

  /** Required unless `agent_host` is given. */
  @ValidateIf((message: ExecutionResultMessage) => isGiven(message.agent_paw) || !hasText(message.agent_host))
  @RequiredString()
  agent_paw?: string;

  @RequiredString()
  command: string;

  @RequiredNested(() => ExecutionOutput)
  result: ExecutionOutput;

  /** When the command ran (ISO-8601). */
  @RequiredDateTime()
  timestamp: string;

  @DetectionsField()
  detections?: Detections;

  /** ATT&CK tactic, e.g. `discovery`. */
  @OptionalString()
  tactic?: string;

  /** ATT&CK technique id, e.g. `T1033`. */
  @OptionalString()
  technique_id?: string;

  @OptionalString()
  technique_name?: string;

  @OptionalString()
  execution_id?: string;

  @OptionalString()
  link_id?: string;
}
