import { BadRequestException, ConflictException, ForbiddenException, ServiceUnavailableException } from '@nestjs/common';
import { ClientPrincipal, verifyClientSecret } from '@purple/auth';
import { BusClientEntity } from '@purple/persistence';
import { ClientBrokerObjects } from './client-broker-objects';
import { ClientExistsError, ClientRepository, NewClient } from './client.repository';
import { CreateClientUseCase } from './create-client.use-case';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookUrlPolicy } from './webhook-url-policy';

/** In memory, with the real repository's contract: the row is kept only if `whileLocked` succeeds. */
class FakeClients {
  readonly rows = new Map<string, NewClient>();
  row(id: string): NewClient {
    const row = this.rows.get(id);
    if (!row) throw new Error(`no row ${id}`);
    return row;
  }
  async insert(client: NewClient, whileLocked: () => Promise<void>): Promise<BusClientEntity> {
    if (this.rows.has(client.clientId)) throw new ClientExistsError(`client ${client.clientId} already exists`);
    await whileLocked();
    this.rows.set(client.clientId, client);
    return { ...client, tokenVersion: 1, incarnation: 'c0ffee', createdAt: new Date(), updatedAt: new Date() };
  }
}

class FakeBroker {
  readonly calls: string[] = [];
  failCreate = false;
  async create(id: string, subscription: string) {
    this.calls.push(`create ${id} ${subscription}`);
    if (this.failCreate) throw new ServiceUnavailableException('management API down');
  }
  async remove(id: string) {
    this.calls.push(`remove ${id}`);
  }
}

const ADMIN: ClientPrincipal = { clientId: 'admin', scopes: ['admin', 'checking:read', 'checking:admin'], tokenId: 't', expiresAt: new Date(8e15) };
const BUS_ADMIN: ClientPrincipal = { ...ADMIN, clientId: 'bus-admin', scopes: ['admin'] };

describe('CreateClientUseCase', () => {
  let clients: FakeClients;
  let broker: FakeBroker;
  const urlChecks: string[] = [];
  const policy = {
    check: async (url: string) => {
      urlChecks.push(url);
      if (url.includes('10.0.0.1')) throw new BadRequestException(['webhook_url: private']);
    },
  } as unknown as WebhookUrlPolicy;
  const secrets = { issue: () => ({ secret: 'whsec_c2VjcmV0', sealed: 'v2.sealed' }) } as unknown as WebhookSecrets;
  const useCase = () => new CreateClientUseCase(clients as unknown as ClientRepository, broker as unknown as ClientBrokerObjects, policy, secrets);

  beforeEach(() => {
    clients = new FakeClients();
    broker = new FakeBroker();
    urlChecks.length = 0;
  });

  it('stores a bus client with a hashed secret and creates its queues inside the insert', async () => {
    const created = await useCase().execute({ client_id: 'noc-c2', client_name: 'C2', subscription: 'soar.#' }, ADMIN);
    expect(broker.calls).toEqual(['create noc-c2 soar.#']);
    const row = clients.row('noc-c2');
    expect(row).toMatchObject({ scopes: 'bus', subscription: 'soar.#', webhookUrl: null, webhookSecretCiphertext: null });
    expect(row.secretHash).not.toContain(created.clientSecret);
    expect(await verifyClientSecret(created.clientSecret, row.secretHash)).toBe(true);
    expect(created.webhookSecret).toBeUndefined();
  });

  it('checks the webhook URL and stores its secret sealed, returning it in clear once', async () => {
    const created = await useCase().execute({ client_id: 'hooked', client_name: 'H', subscription: '#', webhook_url: 'https://hooks.example.org/x' }, ADMIN);
    expect(urlChecks).toEqual(['https://hooks.example.org/x']);
    expect(created.webhookSecret).toBe('whsec_c2VjcmV0');
    expect(clients.row('hooked').webhookSecretCiphertext).toBe('v2.sealed');
    await expect(useCase().execute({ client_id: 'private', client_name: 'P', subscription: '#', webhook_url: 'http://10.0.0.1/' }, ADMIN)).rejects.toThrow(BadRequestException);
    expect(clients.rows.has('private')).toBe(false);
  });

  it('lets only a caller holding checking:admin grant it (issue 12 #9)', async () => {
    await expect(useCase().execute({ client_id: 'operator', client_name: 'O', scopes: ['checking:admin'] }, BUS_ADMIN)).rejects.toThrow(ForbiddenException);
    expect(clients.rows.has('operator')).toBe(false);
    await useCase().execute({ client_id: 'operator', client_name: 'O', scopes: ['checking:read', 'checking:admin'] }, ADMIN);
    expect(clients.row('operator').scopes).toBe('checking:read checking:admin');
  });

  it('gives a client without the bus scope no queues, and refuses bus fields for it', async () => {
    await useCase().execute({ client_id: 'reader', client_name: 'R', scopes: ['checking:read'] }, ADMIN);
    expect(broker.calls).toEqual([]);
    expect(clients.row('reader').scopes).toBe('checking:read');
    await expect(useCase().execute({ client_id: 'x', client_name: 'X', scopes: ['admin'], subscription: '#' }, ADMIN)).rejects.toThrow(BadRequestException);
    await expect(useCase().execute({ client_id: 'y', client_name: 'Y' }, ADMIN)).rejects.toThrow('Bad Request');
  });

  it('answers 409 for a taken id without touching the broker', async () => {
    await useCase().execute({ client_id: 'noc-c2', client_name: 'C2', subscription: 'soar.#' }, ADMIN);
    broker.calls.length = 0;
    await expect(useCase().execute({ client_id: 'noc-c2', client_name: 'again', subscription: '#' }, ADMIN)).rejects.toThrow(ConflictException);
    expect(broker.calls).toEqual([]);
  });

  it('removes half-created queues and keeps no row when the broker fails', async () => {
    broker.failCreate = true;
    await expect(useCase().execute({ client_id: 'noc-c2', client_name: 'C2', subscription: 'soar.#' }, ADMIN)).rejects.toThrow(ServiceUnavailableException);
    expect(broker.calls).toEqual(['create noc-c2 soar.#', 'remove noc-c2']);
    expect(clients.rows.size).toBe(0);
  });
});
