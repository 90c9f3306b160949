import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfirmedPublisher } from '@purple/messaging';
import { counter } from '@purple/platform';
import { CHECKING_EXCHANGE, ROUTING_KEYS } from '@purple/topology';
import { BRIDGE_SETTINGS, BridgeSettings } from '../bridge-env';
import { CalderaRepository } from './caldera-repository';
import { CalderaAbility, CalderaLink, CalderaOperation, isClosedOperation, isFinishedLink } from '@purple/caldera';
import { FinishedLink, buildLinkResult, messageIdOf } from './link-message';
import { SentLinkRepository } from './sent-link-repository';

const linksBridged = counter('purple_caldera_bridge_links_total', 'Finished Caldera links the bridge published or skipped as invalid', ['outcome']);

export type PollOutcome =
  /** nothing was asked: the database or the broker is not connected yet, or another bridge is polling */
  | { kind: 'waiting'; reason: string }
  | { kind: 'polled'; operations: number; published: number; skipped: number };

/**
 * One poll of Caldera: every finished link of the bridged operations that is not recorded yet is published as a
 * `link_result` (persistent, confirmed by the broker) and recorded only then; a link that cannot become a valid
 * message is recorded as skipped, with the reason. A crash between the confirm and the record sends that link again
 * at the next start, which the caldera-consumer recognises by its link id.
 *
 * Caldera failing (unreachable, refusing the key, 5xx) or the broker refusing ends the poll with the error; what was
 * published until then is recorded.
 */
@Injectable()
export class PublishFinishedLinks {
  private readonly logger = new Logger('CalderaBridge');
  /** closed operations whose finished links are all recorded: their links are not asked for again */
  private readonly doneOperations = new Set<string>();

  constructor(
    private readonly caldera: CalderaRepository,
    private readonly sentLinks: SentLinkRepository,
    private readonly publisher: ConfirmedPublisher,
    @Inject(BRIDGE_SETTINGS) private readonly settings: BridgeSettings,
  ) {}

  async execute(signal: AbortSignal): Promise<PollOutcome> {
    if (!this.sentLinks.available) return { kind: 'waiting', reason: 'PostgreSQL is not connected yet' };
    if (!this.publisher.connected) return { kind: 'waiting', reason: 'RabbitMQ is not connected yet' };
    const outcome = await this.sentLinks.withPollLock(() => this.poll(signal));
    return outcome ?? { kind: 'waiting', reason: 'another caldera-bridge is polling' };
  }

  private async poll(signal: AbortSignal): Promise<PollOutcome> {
    const operations = (await this.caldera.listOperations(signal)).filter((operation) => this.isBridged(operation));
    const lookups = new PollLookups(this.caldera, signal);
    const outcome: PollOutcome = { kind: 'polled', operations: operations.length, published: 0, skipped: 0 };
    for (const operation of operations) {
      if (this.doneOperations.has(operation.id)) continue;
      const finished = (await this.caldera.operationLinks(operation.id, signal)).filter(isFinishedLink);
      const recorded = await this.sentLinks.recordedAmong(finished.map((link) => link.id));
      for (const link of finished) {
        if (recorded.has(link.id)) continue;
        signal.throwIfAborted();
        const sent = await this.bridge(operation, link, lookups);
        if (sent === 'published') outcome.published++;
        else outcome.skipped++;
      }
      // read before the links were: a link cannot finish in an operation that was already closed
      if (isClosedOperation(operation)) this.doneOperations.add(operation.id);
    }
    return outcome;
  }

  private isBridged(operation: CalderaOperation): boolean {
    const wanted = this.settings.operations;
    return wanted.length === 0 || wanted.includes(operation.id) || wanted.includes(operation.name);
  }

  private async bridge(operation: CalderaOperation, link: CalderaLink, lookups: PollLookups): Promise<'published' | 'skipped'> {
    const finished: FinishedLink = {
      operation,
      link,
      ability: await lookups.ability(link),
      host: link.host ?? (link.paw ? await lookups.agentHost(link.paw) : undefined),
      result: await this.caldera.linkResult(operation.id, link.id, lookups.signal),
    };
    const fields = { link_id: link.id, operation_id: operation.id, correlation_id: link.id };
    const built = buildLinkResult(finished, new Date());
    if (!built.ok) {
      const reason = `not a valid link_result: ${built.errors.join('; ')}`;
      await this.sentLinks.recordSkipped(link.id, operation.id, reason);
      linksBridged.inc({ outcome: 'skipped' });
      this.logger.warn({ msg: `skipped Caldera link ${link.id} of operation "${operation.name}" for good: ${reason}`, ...fields });
      return 'skipped';
    }
    // Caldera's link id is the correlation id: one search finds the execution from Caldera to its verdict
    await this.publisher.publish(CHECKING_EXCHANGE, ROUTING_KEYS.executionResult, built.message, {
      messageId: messageIdOf(link.id),
      correlationId: link.id,
    });
    await this.sentLinks.recordPublished(link.id, operation.id);
    linksBridged.inc({ outcome: 'published' });
    this.logger.log({
      // not the command: a red-team command may carry a credential, and bodies are logged only at debug
      msg: `published Caldera link ${link.id} on ${built.message.execution.agent_host} (operation "${operation.name}")`,
      ...fields,
    });
    return 'published';
  }
}

/** Abilities and agents asked for once per poll, however many links share them. */
class PollLookups {
  private readonly abilities = new Map<string, Promise<CalderaAbility | undefined>>();
  private readonly hosts = new Map<string, Promise<string | undefined>>();

  constructor(
    private readonly caldera: CalderaRepository,
    readonly signal: AbortSignal,
  ) {}

  /** the ability as Caldera has it now (with its `additional_info`), else the copy the link carries */
  async ability(link: CalderaLink): Promise<CalderaAbility> {
    const id = link.ability.abilityId;
    if (id === undefined) return link.ability;
    if (!this.abilities.has(id)) this.abilities.set(id, this.caldera.ability(id, this.signal));
    return (await this.abilities.get(id)) ?? link.ability;
  }

  agentHost(paw: string): Promise<string | undefined> {
    if (!this.hosts.has(paw)) this.hosts.set(paw, this.caldera.agentHost(paw, this.signal));
    return this.hosts.get(paw) as Promise<string | undefined>;
  }
}
