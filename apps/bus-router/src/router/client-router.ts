import { Injectable, Logger } from '@nestjs/common';
import { SOAR_EXCHANGES, clientQueues } from '@purple/topology';
import { BusClientRepository, RoutedClient } from '../clients/bus-client.repository';
import { BusRouterEnv } from '../config';
import { DeliveryHandler, ConsumerFactory, ConsumerHandle } from '@purple/messaging';
import { PushToWebhook, WebhookTarget } from '../push/push-to-webhook';
import { WebhookSecrets } from '../push/webhook-secrets';
import { DestinationDirectory } from '../routing/destination-directory';
import { ForwardBroadcastMessage } from '../routing/forward-broadcast-message';
import { ForwardOutboxMessage } from '../routing/forward-outbox-message';

interface RunningClient {
  outbox: ConsumerHandle;
  broadcast: ConsumerHandle;
  push?: { consumer: ConsumerHandle; target: WebhookTarget };
  /** why the client's webhook is not pushed to, as last reported (so it is logged once, not at every sync) */
  pushProblem?: string;
}

/**
 * Keeps one set of consumers per bus client in line with bus_client: its outbox and broadcast queue always, its
 * inbox while it has an enabled webhook. Work on one client is serialised, and always reads the client afresh, so
 * a notification and a periodic sync cannot undo each other.
 */
@Injectable()
export class ClientRouter {
  private readonly logger = new Logger('ClientRouter');
  private readonly running = new Map<string, RunningClient>();
  private readonly pending = new Map<string, Promise<void>>();
  private closed = false;

  constructor(
    private readonly consumers: ConsumerFactory,
    private readonly clients: BusClientRepository,
    private readonly forwardOutbox: ForwardOutboxMessage,
    private readonly forwardBroadcast: ForwardBroadcastMessage,
    private readonly pushToWebhook: PushToWebhook,
    private readonly secrets: WebhookSecrets,
    private readonly config: BusRouterEnv,
    private readonly directory: DestinationDirectory,
  ) {}

  /** the ids of the clients routed now */
  get routedClients(): string[] {
    return [...this.running.keys()].sort();
  }

  /** Whether a client's inbox is being pushed to its webhook now. */
  isPushing(clientId: string): boolean {
    const push = this.running.get(clientId)?.push;
    return push !== undefined && !push.consumer.stopped;
  }

  /** Brings every client, known to the database or running here, in line with the database. */
  async syncAll(): Promise<void> {
    const rows = await this.clients.findAll();
    this.directory.replaceAll(rows.filter((c) => c.isBusClient));
    const ids = new Set([...rows.map((c) => c.clientId), ...this.running.keys()]);
    await Promise.all([...ids].map((id) => this.sync(id)));
  }

  /** Brings one client in line with the database (after its change was notified). */
  sync(clientId: string): Promise<void> {
    return this.serialise(clientId, async () => this.apply(clientId, await this.clients.findById(clientId)));
  }

  /** Stops every consumer; messages in hand finish, unacked ones go back to their queues. */
  async stopAll(): Promise<void> {
    this.closed = true;
    await Promise.all([...this.pending.values()]);
    await Promise.all([...this.running.keys()].map((id) => this.stopClient(id)));
  }

  private async apply(clientId: string, client: RoutedClient | undefined): Promise<void> {
    this.directory.set(clientId, client?.isBusClient ? client.subscription : undefined);
    // a sender forwarded before the first full read would miss the subscribers not read yet; that read starts it
    if (this.closed || !this.directory.loaded) return;
    if (!client?.isBusClient) {
      if (this.running.has(clientId)) {
        await this.stopClient(clientId);
        this.logger.log(`stopped routing for ${clientId} (${client ? 'no longer a bus client' : 'deleted'})`);
      }
      return;
    }
    let running = this.running.get(clientId);
    if (!running) {
      running = this.startRouting(clientId);
      this.logger.log(`routing for ${clientId}`);
    }
    await this.applyPush(running, client);
  }

  private startRouting(clientId: string): RunningClient {
    const queues = clientQueues(clientId);
    const running: RunningClient = {
      outbox: this.consume(clientId, queues.outbox, (d) => this.forwardOutbox.execute(clientId, d), this.config.ROUTER_PREFETCH),
      broadcast: this.consume(clientId, queues.broadcast, (d) => this.forwardBroadcast.execute(clientId, d), this.config.ROUTER_PREFETCH),
    };
    this.running.set(clientId, running);
    return running;
  }

  private async applyPush(running: RunningClient, client: RoutedClient): Promise<void> {
    const { target, problem } = this.webhookTarget(client);
    if (problem !== running.pushProblem) {
      if (problem) this.logger.error(`not pushing ${client.clientId}'s inbox: ${problem}`);
      running.pushProblem = problem;
    }
    const push = running.push;
    if (push && (!target || push.consumer.stopped)) {
      await push.consumer.stop();
      running.push = undefined;
      if (!target) this.logger.log(`stopped pushing ${client.clientId}'s inbox`);
    }
    if (!target) return;
    if (running.push) {
      // the next attempt uses the new URL or secret
      Object.assign(running.push.target, target);
      return;
    }
    const current = { ...target };
    running.push = {
      target: current,
      // one webhook call at a time: the receiver gets the inbox in order
      consumer: this.consume(client.clientId, clientQueues(client.clientId).inbox, (d) => this.pushToWebhook.execute(() => current, d), 1),
    };
    this.logger.log(`pushing ${client.clientId}'s inbox to its webhook`);
  }

  private webhookTarget(client: RoutedClient): { target?: WebhookTarget; problem?: string } {
    if (!client.webhookUrl || !client.webhookEnabled) return {};
    const secret = this.secrets.open(client.webhookSecretCiphertext, client.clientId);
    if (!secret) return { problem: 'its webhook signing secret is missing or cannot be opened with WEBHOOK_SECRET_KEY' };
    return { target: { clientId: client.clientId, url: client.webhookUrl, secret } };
  }

  private consume(clientId: string, queue: string, handler: DeliveryHandler, prefetch: number): ConsumerHandle {
    const consumer = this.consumers.create(
      {
        queue,
        prefetch,
        deadLetterExchange: SOAR_EXCHANGES.dlx,
        deadLetterRoutingKey: clientId,
        retryBaseMs: this.config.ROUTER_RETRY_BASE_MS,
        retryMaxMs: this.config.ROUTER_RETRY_MAX_MS,
      },
      handler,
    );
    consumer.start();
    return consumer;
  }

  private async stopClient(clientId: string): Promise<void> {
    const running = this.running.get(clientId);
    if (!running) return;
    this.running.delete(clientId);
    await Promise.all([running.outbox.stop(), running.broadcast.stop(), running.push?.consumer.stop()]);
  }

  private serialise(clientId: string, work: () => Promise<void>): Promise<void> {
    const next = (this.pending.get(clientId) ?? Promise.resolve())
      .then(work)
      .catch((error: unknown) => this.logger.warn(`syncing client ${clientId} failed: ${(error as Error).message}; the next sync retries`))
      .finally(() => {
        if (this.pending.get(clientId) === next) this.pending.delete(clientId);
      });
    this.pending.set(clientId, next);
    return next;
  }
}
