import 'reflect-metadata';
import { SecretBox } from '@purple/platform';
import { BusClientEntity } from '@purple/persistence';
import { createCipheriv, createHash, randomBytes } from 'node:crypto';
import { ApiEnv } from '../config/api-env';
import { ClientChanges, ClientRepository } from './client.repository';
import { ResealWebhookSecretsUseCase } from './reseal-webhook-secrets.use-case';
import { WebhookSecrets } from './webhook-secrets';

const KEY = 'w'.repeat(24);

function sealV1(plaintext: string, key = KEY): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', createHash('sha256').update(key).digest(), iv);
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

describe('ResealWebhookSecretsUseCase (issue 12, low: the migration path to v2)', () => {
  it('seals v1 secrets again as v2 bound to their client, and leaves v2 and unopenable ones alone', async () => {
    const box = new SecretBox(KEY);
    const current = box.seal('whsec_b', 'bravo');
    const rows = new Map<string, Partial<BusClientEntity>>([
      ['alpha', { clientId: 'alpha', webhookSecretCiphertext: sealV1('whsec_a') }],
      ['bravo', { clientId: 'bravo', webhookSecretCiphertext: current }],
      ['other-key', { clientId: 'other-key', webhookSecretCiphertext: sealV1('whsec_c', 'some-other-key-entirely') }],
      ['no-hook', { clientId: 'no-hook', webhookSecretCiphertext: null }],
    ]);
    const repository = {
      list: async () => [...rows.values()],
      update: async (id: string, change: (c: BusClientEntity) => Promise<ClientChanges>) => {
        const row = rows.get(id) as BusClientEntity;
        Object.assign(row, await change(row));
        return row;
      },
    } as unknown as ClientRepository;
    const useCase = new ResealWebhookSecretsUseCase(repository, new WebhookSecrets({ WEBHOOK_SECRET_KEY: KEY } as ApiEnv));

    expect(await useCase.execute()).toBe(1);
    const alpha = rows.get('alpha')?.webhookSecretCiphertext as string;
    expect(alpha).toMatch(/^v2\./);
    expect(box.open(alpha, 'alpha')).toBe('whsec_a');
    expect(rows.get('bravo')?.webhookSecretCiphertext).toBe(current);
    expect(rows.get('other-key')?.webhookSecretCiphertext).toMatch(/^v1\./);
    expect(await useCase.execute()).toBe(0);
  });
});
