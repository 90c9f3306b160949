import { Injectable, Logger, ServiceUnavailableException } from '@nestjs/common';
import { ManagementClient, SOAR_EXCHANGES, SOAR_USERS, clientQueues, clientTopology, namer } from '@purple/topology';
import { ApiEnv } from '../config/api-env';

/**
 * A client's queues and bindings in `/soar` (see clientTopology), created and removed through the management HTTP
 * API as the vhost admin `soar_admin`: the api's own broker user has no `configure` permission.
 */
@Injectable()
export class ClientBrokerObjects {
  private readonly logger = new Logger('ClientBrokerObjects');
  private readonly management: ManagementClient;
  private readonly namespace?: string;

  constructor(env: ApiEnv) {
    this.namespace = env.BROKER_NAMESPACE;
    this.management = new ManagementClient({
      url: env.RABBITMQ_MANAGEMENT_URL,
      username: namer({ namespace: env.BROKER_NAMESPACE }).user(SOAR_USERS.admin),
      password: env.SOAR_ADMIN_PASSWORD,
      timeoutMs: 10_000,
    });
  }

  /** Declares the outbox, broadcast, inbox and dead-letter queues and their bindings (idempotent). */
  async create(clientId: string, subscription: string): Promise<void> {
    const topology = clientTopology(clientId, subscription, { namespace: this.namespace });
    await this.brokerWork(`create the queues of ${clientId}`, async () => {
      for (const queue of topology.queues) await this.management.putQueue(queue);
      for (const binding of topology.bindings) await this.management.createBinding(binding);
    });
  }

  /**
   * Binds the inbox to `soar-publish` with the new pattern, then removes the other patterns: added first, so no
   * message falls between the two. On failure it puts the previous binding back.
   */
  async rebind(clientId: string, previous: string, subscription: string): Promise<void> {
    const { vhost } = clientTopology(clientId, subscription, { namespace: this.namespace });
    const inbox = clientQueues(clientId).inbox;
    const bind = (pattern: string) => {
      const binding = clientTopology(clientId, pattern, { namespace: this.namespace }).bindings.find((b) => b.source === SOAR_EXCHANGES.publish);
      if (!binding) throw new Error(`the client topology has no ${SOAR_EXCHANGES.publish} binding`);
      return this.management.createBinding(binding);
    };
    const keepOnly = async (pattern: string) => {
      for (const binding of await this.management.getBindings(vhost, SOAR_EXCHANGES.publish, inbox)) {
        if (binding.routing_key !== pattern) {
          await this.management.deleteBinding(vhost, SOAR_EXCHANGES.publish, inbox, binding.properties_key, { ignoreMissing: true });
        }
      }
    };
    await this.brokerWork(`change the subscription of ${clientId}`, async () => {
      try {
        await bind(subscription);
        await keepOnly(subscription);
      } catch (error) {
        await bind(previous)
          .then(() => keepOnly(previous))
          .catch((restoreError: Error) => this.logger.error(`could not restore the subscription of ${clientId}: ${restoreError.message}`));
        throw error;
      }
    });
  }

  /** Deletes the client's queues (their bindings go with them); queues already gone are fine. */
  async remove(clientId: string): Promise<void> {
    const { vhost } = clientTopology(clientId, '#', { namespace: this.namespace });
    await this.brokerWork(`remove the queues of ${clientId}`, async () => {
      for (const queue of Object.values(clientQueues(clientId))) await this.management.deleteQueue(vhost, queue, { ignoreMissing: true });
    });
  }

  private async brokerWork(what: string, work: () => Promise<void>): Promise<void> {
    try {
      await work();
    } catch (error) {
      // the management API's messages name the request and the broker's reason, never a credential
      throw new ServiceUnavailableException(`could not ${what}: ${(error as Error).message}`);
    }
  }
}
