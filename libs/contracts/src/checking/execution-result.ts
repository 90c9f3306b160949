import {
  OptionalString,
  RequiredDateTime,
  RequiredInt,
  RequiredNested,
  RequiredString,
  RequiredText,
} from '../decorators';
import { DetectionsField, DetectionsMap } from './detections';

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
 * `detections` is optional: an execution without detections gets the `no_detections` verdict.
 */
export class ExecutionResultMessage {
  @RequiredString()
  operation_id: string;

  @RequiredString()
  agent_host: string;

  @RequiredString()
  agent_paw: string;

  @RequiredString()
  command: string;

  @RequiredNested(() => ExecutionOutput)
  result: ExecutionOutput;

  /** When the command ran (ISO-8601). */
  @RequiredDateTime()
  timestamp: string;

  @DetectionsField({ allowList: false })
  detections?: DetectionsMap;

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
