import { Injectable, Logger, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import { Scope, formatScopes, hashClientSecret, parseScopes, verifyClientSecret } from '@purple/auth';
import { DatabaseConnector } from '@purple/persistence';
import { backoffDelay, sleep } from '@purple/platform';
import { ClientChanges, ClientRepository } from '../clients/client.repository';
import { ResealWebhookSecretsUseCase } from '../clients/reseal-webhook-secrets.use-case';
import { ApiEnv } from '../config/api-env';

/** the bootstrap admin holds every scope but `bus`: it is where `checking:admin` can first be granted from */
export const ADMIN_SCOPES: Scope[] = ['admin', 'checking:read', 'checking:admin'];

/**
 * The first admin, from ADMIN_CLIENT_ID / ADMIN_CLIENT_SECRET: created if missing, given the admin scopes, and given
 * the configured secret if it changed (which also revokes the tokens issued with the old one). It has no queues.
 */
@Injectable()
export class EnsureAdminClientUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly env: ApiEnv,
  ) {}

  async execute(): Promise<void> {
    const clientId = this.env.ADMIN_CLIENT_ID;
    const secret = this.env.ADMIN_CLIENT_SECRET;
    if (!(await this.clients.findById(clientId))) {
      await this.clients.insertIfAbsent({
        clientId,
        clientName: 'Administrator',
        subscription: '',
        webhookUrl: null,
        webhookEnabled: false,
        webhookSecretCiphertext: null,
        secretHash: await hashClientSecret(secret),
        scopes: formatScopes(ADMIN_SCOPES),
      });
    }
    await this.clients.update(clientId, async (current) => {
      const changes: ClientChanges = {};
      const scopes = parseScopes(current.scopes);
      if (!ADMIN_SCOPES.every((s) => scopes.includes(s))) changes.scopes = formatScopes([...scopes, ...ADMIN_SCOPES]);
      if (!(await verifyClientSecret(secret, current.secretHash))) {
        changes.secretHash = await hashClientSecret(secret);
        changes.tokenVersion = current.tokenVersion + 1;
      }
      return changes;
    });
  }
}

/**
 * Runs {@link EnsureAdminClientUseCase}, then {@link ResealWebhookSecretsUseCase}, once the database is up, retrying
 * with backoff; start-up does not wait.
 */
@Injectable()
export class AdminClientBootstrap implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('AdminClient');
  private stopped = false;

  constructor(
    private readonly ensureAdmin: EnsureAdminClientUseCase,
    private readonly resealWebhookSecrets: ResealWebhookSecretsUseCase,
    private readonly database: DatabaseConnector,
    private readonly env: ApiEnv,
  ) {}

  onApplicationBootstrap(): void {
    void this.run();
  }

  onApplicationShutdown(): void {
    // not awaited: a backoff sleep may be long, and a stopped loop makes no further attempt
    this.stopped = true;
  }

  private async run(): Promise<void> {
    for (let attempt = 0; !this.stopped; attempt++) {
      try {
        await this.database.ready();
        await this.ensureAdmin.execute();
        this.logger.log(`admin client ${this.env.ADMIN_CLIENT_ID} is ready`);
        await this.resealWebhookSecrets.execute();
        return;
      } catch (error) {
        if (this.stopped) return;
        const delay = backoffDelay(attempt);
        this.logger.warn(`cannot ensure the admin client yet (${(error as Error).message}); retrying in ${delay} ms`);
        await sleep(delay);
      }
    }
  }
}
