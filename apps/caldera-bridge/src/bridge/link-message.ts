import { Detections, LINK_RESULT_MESSAGE_TYPE, LinkResultMessage, validateMessage } from '@purple/contracts';
import { CalderaAbility, CalderaLink, CalderaOperation, LINK_STATES, calderaTimeOf, decodeCalderaText, detectionsOf } from '@purple/caldera';
import { boundedOutputOf } from './link-output';

/** Everything the bridge gathered about one finished link. */
export interface FinishedLink {
  operation: CalderaOperation;
  link: CalderaLink;
  /** the ability as `GET /api/v2/abilities/{id}` gives it, else the link's own copy */
  ability: CalderaAbility;
  /** the agent's host: the link's, else `GET /api/v2/agents/{paw}`'s */
  host: string | undefined;
  /** the link's result as Caldera serves it (base64, possibly '') */
  result: string;
}

/** The broker message id of a link: stable, so a re-send after a crash is recognisably the same message. */
export const messageIdOf = (linkId: string) => `caldera-link:${linkId}`;

export type BuiltMessage = { ok: true; message: LinkResultMessage } | { ok: false; errors: string[] };

/**
 * The `link_result` message a patched Caldera would publish for this link (libs/contracts link-result.ts),
 * validated as the caldera-consumer validates it.
 * The execution time is the agent's own report of it, else when Caldera received the result, else when it was
 * decided.
 */
export function buildLinkResult(finished: FinishedLink, publishedAt: Date): BuiltMessage {
  const { operation, link, ability, host, result } = finished;
  const detections = detectionsOf(ability);
  const output = boundedOutputOf(result);
  const message: LinkResultMessage = {
    message_type: LINK_RESULT_MESSAGE_TYPE,
    timestamp: publishedAt.toISOString(),
    operation: {
      id: operation.id,
      name: operation.name,
      ...optional('start', calderaTimeOf(operation.start)),
    },
    execution: {
      link_id: link.id,
      // the paw alone identifies the agent when its host is unknown
      ...optional('agent_host', host),
      agent_paw: link.paw,
      command: decodeCalderaText(link.command),
      ...optional('result_data', output),
      ...optional('agent_reported_time', calderaTimeOf(link.agentReportedTime) ?? calderaTimeOf(link.finish) ?? calderaTimeOf(link.decide)),
      ...optional('pid', link.pid),
      status: link.status,
      ...optional('state', LINK_STATES[link.status]),
      ...optional('tactic', ability.tactic),
      ...optional('technique_id', ability.techniqueId),
      ...optional('technique_name', ability.techniqueName),
      ...optional('detections', detections as Detections | undefined),
    },
  };
  const validation = validateMessage(LinkResultMessage, message);
  return validation.ok ? { ok: true, message } : validation;
}

/** `{ [key]: value }` when the value is there, else nothing: absent fields stay absent in the message. */
function optional<K extends string, V>(key: K, value: V | undefined): { [P in K]?: V } {
  return value === undefined ? {} : ({ [key]: value } as { [P in K]: V });
}
