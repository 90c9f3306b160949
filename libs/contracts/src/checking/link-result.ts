import { plainToInstance, Transform } from 'class-transformer';
import { IsObject, IsOptional, ValidateIf, ValidateNested } from 'class-validator';
import { JSONSchema } from 'class-validator-jsonschema';
import { LINK_RESULT_MESSAGE_TYPE } from '../constants';
import {
  composeDecorators,
  JsonSchemaOverride,
  OptionalDateTime,
  OptionalInt,
  OptionalString,
  parseEmbeddedJson,
  RequiredDateTime,
  RequiredNested,
  RequiredOneOf,
  RequiredString,
} from '../decorators';
import { Detections, DetectionsField } from './detections';
import { hasText, isGiven } from './host-or-paw';

/*
 * The execution result a patched Caldera publishes (DESIGN "Messages"), e.g.
 *
 *   { "message_type": "link_result", "timestamp": "...",
 *     "operation": { "id": "...", "name": "...", "start": "..." },
 *     "execution": { "link_id": "...", "agent_host": "...", "agent_paw": "...", "command": "whoami",
 *                    "pid": 1234, "status": 0, "state": "SUCCESS",
 *                    "result_data": "{\"stdout\":\"administrator\",\"stderr\":\"\",\"exit_code\":0}",
 *                    "agent_reported_time": "...", "tactic": "...", "technique_id": "...",
 *                    "technique_name": "...", "detections": ... } }
 *
 * Field names the design does not fix, chosen after the publisher the design describes:
 * - `operation.id` (or `operation.operation_id`, which some publisher versions send instead), likewise
 *   `operation.start` (or `operation_start`) and `execution.state` (or `link_state`);
 * - the execution needs a command and `agent_host` or `agent_paw`; `link_id` is optional (the dedupe key falls
 *   back to the AMQP message id, else a hash of the body);
 * - `execution.agent_reported_time`: when the agent ran the command; falls back to `timestamp`
 *   (when the message was published);
 * - ATT&CK fields and `detections` live in `execution`; the same names at the top level are
 *   accepted as a fallback;
 * - `execution.result_data`: an object `{stdout, stderr, exit_code}` or that object as a JSON
 *   string; any other string is taken as raw stdout with an unknown exit code.
 */

/** Caldera's operation. */
@JSONSchema({ anyOf: [{ required: ['id'] }, { required: ['operation_id'] }] })
export class LinkOperation {
  /** Required unless `operation_id` is given; checked whenever present. */
  @ValidateIf((operation: LinkOperation) => operation.id != null || operation.operation_id == null)
  @RequiredString()
  id: string;

  /** Alias of `id`. */
  @OptionalString()
  operation_id?: string;

  @OptionalString()
  name?: string;

  @OptionalDateTime()
  start?: string;

  /** Alias of `start`. */
  @OptionalDateTime()
  operation_start?: string;
}

/** Parsed `result_data`; every field optional because Caldera's agents do not always send all three. */
export class LinkOutput {
  @OptionalString()
  stdout?: string;

  @OptionalString()
  stderr?: string;

  /** An integer; Caldera agents may send it as a string ("0"), which is converted. */
  @Transform(({ value }) => (typeof value === 'string' && /^-?\d+$/.test(value.trim()) ? Number(value) : value), {
    toClassOnly: true,
  })
  @OptionalInt()
  exit_code?: number;
}

function ResultDataField(): PropertyDecorator {
  return composeDecorators(
    IsOptional(),
    Transform(
      ({ obj, key }) => {
        const parsed = parseEmbeddedJson(obj[key]);
        const isObject = typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed);
        return isObject ? plainToInstance(LinkOutput, parsed) : obj[key];
      },
      { toClassOnly: true },
    ),
    // A string left after the transform is raw output, which is acceptable as it is.
    ValidateIf((_execution, value) => typeof value !== 'string'),
    IsObject({ message: '$property must be an object or a string' }),
    ValidateNested(),
    JsonSchemaOverride({
      oneOf: [
        { $ref: '#/definitions/LinkOutput' },
        { type: 'string', description: 'LinkOutput as a JSON string, or raw stdout' },
      ],
    }),
  );
}

/** One link (command) Caldera executed: usable with a command and the agent's host or paw. */
@JSONSchema({ anyOf: [{ required: ['agent_host'] }, { required: ['agent_paw'] }] })
export class LinkExecution {
  /** Caldera's link id: the dedupe key for redeliveries (else the AMQP message id, else a hash of the body). */
  @OptionalString()
  link_id?: string;

  /** Required unless `agent_paw` is given. */
  @ValidateIf((execution: LinkExecution) => isGiven(execution.agent_host) || !hasText(execution.agent_paw))
  @RequiredString()
  agent_host?: string;

  /** Required unless `agent_host` is given. */
  @ValidateIf((execution: LinkExecution) => isGiven(execution.agent_paw) || !hasText(execution.agent_host))
  @RequiredString()
  agent_paw?: string;

  /** The command as plain text. */
  @RequiredString()
  command: string;

  @ResultDataField()
  result_data?: LinkOutput | string;

  @OptionalDateTime()
  agent_reported_time?: string;

  @OptionalInt()
  pid?: number;

  /** Caldera's link status code (0 = success). */
  @OptionalInt()
  status?: number;

  /** Caldera's link state, e.g. `SUCCESS`. */
  @OptionalString()
  state?: string;

  /** Alias of `state`. */
  @OptionalString()
  link_state?: string;

  @OptionalString()
  tactic?: string;

  @OptionalString()
  technique_id?: string;

  @OptionalString()
  technique_name?: string;

  @DetectionsField()
  detections?: Detections;
}

/** The patched Caldera's execution result; see the comment at the top of this file. */
export class LinkResultMessage {
  @RequiredOneOf([LINK_RESULT_MESSAGE_TYPE])
  message_type: typeof LINK_RESULT_MESSAGE_TYPE;

  /** When Caldera published the message. */
  @RequiredDateTime()
  timestamp: string;

  @RequiredNested(() => LinkOperation)
  operation: LinkOperation;

  @RequiredNested(() => LinkExecution)
  execution: LinkExecution;

  /** Used when `execution.detections` is absent. */
  @DetectionsField()
  detections?: Detections;

  /** Used when the `execution` has none. */
  @OptionalString()
  tactic?: string;

  @OptionalString()
  technique_id?: string;

  @OptionalString()
  technique_name?: string;
}
