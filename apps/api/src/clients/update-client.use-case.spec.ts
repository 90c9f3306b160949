import { BadRequestException, NotFoundException } from '@nestjs/common';
import { BusClientEntity } from '@purple/persistence';
import { ClientBrokerObjects } from './client-broker-objects';
import { ClientChanges, ClientRepository } from './client.repository';
import { UpdateClientUseCase } from './update-client.use-case';
import { WebhookSecrets } from './webhook-secrets';
import { WebhookUrlPolicy } from './webhook-url-policy';

const client = (overrides: Partial<BusClientEntity> = {}): BusClientEntity =>
  ({
    clientId: 'noc-c2',
    clientName: 'C2',
    subscription: 'soar.old.#',
    webhookUrl: 'https://hooks.example.org/old',
    webhookEnabled: false,
    webhookSecretCiphertext: 'v1.old',
    secretHash: 'scrypt$…',
    scopes: 'bus',
    tokenVersion: 1,
    createdAt: new Date(),
    updatedAt: new Date(),
    ...overrides,
  }) as BusClientEntity;

describe('UpdateClientUseCase', () => {
  let row: BusClientEntity | null;
  let rebinds: string[];
  const repository = {
    update: async (_id: string, change: (current: BusClientEntity) => Promise<ClientChanges>) => {
      if (!row) return null;
      row = { ...row, ...(await change(row)) };
      return row;
    },
  } as unknown as ClientRepository;
  const broker = { rebind: async (id: string, from: string, to: string) => void rebinds.push(`${id}: ${from} -> ${to}`) } as unknown as ClientBrokerObjects;
  const policy = { check: async () => undefined } as unknown as WebhookUrlPolicy;
  let issued = 0;
  const secrets = { issue: () => ({ secret: `whsec_${++issued}`, sealed: `v1.${issued}` }) } as unknown as WebhookSecrets;
  const useCase = () => new UpdateClientUseCase(repository, broker, policy, secrets);

  beforeEach(() => {
    row = client();
    rebinds = [];
  });

  it('rebinds only when the subscription really changes', async () => {
    await useCase().execute('noc-c2', { subscription: 'soar.new.*' });
    expect(rebinds).toEqual(['noc-c2: soar.old.# -> soar.new.*']);
    expect(row?.subscription).toBe('soar.new.*');
    await useCase().execute('noc-c2', { subscription: 'soar.new.*' });
    expect(rebinds).toHaveLength(1);
  });

  it('issues a new webhook secret with a new URL and enables pushing again', async () => {
    const updated = await useCase().execute('noc-c2', { webhook_url: 'https://hooks.example.org/new' });
    expect(updated.webhookSecret).toMatch(/^whsec_/);
    expect(row).toMatchObject({ webhookUrl: 'https://hooks.example.org/new', webhookEnabled: true, webhookSecretCiphertext: `v1.${issued}` });
  });

  it('removes the webhook and its secret with webhook_url null', async () => {
    const updated = await useCase().execute('noc-c2', { webhook_url: null });
    expect(updated.webhookSecret).toBeUndefined();
    expect(row).toMatchObject({ webhookUrl: null, webhookSecretCiphertext: null });
  });

  it('refuses an empty change, bus fields on a client without the bus scope, and an unknown client', async () => {
    await expect(useCase().execute('noc-c2', {})).rejects.toThrow(BadRequestException);
    row = client({ scopes: 'checking:read' });
    await expect(useCase().execute('noc-c2', { subscription: '#' })).rejects.toThrow(BadRequestException);
    await expect(useCase().execute('noc-c2', { client_name: 'Reader' })).resolves.toMatchObject({ client: { clientName: 'Reader' } });
    row = null;
    await expect(useCase().execute('noc-c2', { client_name: 'x' })).rejects.toThrow(NotFoundException);
  });
});
