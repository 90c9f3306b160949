import { AccessTokenIssuer, hashClientSecret, verifyAccessToken } from '@purple/auth';
import { BusClientEntity } from '@purple/persistence';
import { MemoryLoginFailures } from '../../test/memory-login-failures';
import { ClientRepository } from '../clients/client.repository';
import { IssueTokenUseCase } from './issue-token.use-case';
import { LoginRateLimiter } from './login-rate-limiter';
import { TokenError } from './token-error';

const KEY = 'k'.repeat(32);

describe('IssueTokenUseCase', () => {
  let clients: Map<string, Partial<BusClientEntity>>;
  let failing = false;
  const repository = {
    findById: async (id: string) => {
      if (failing) throw new Error('database down');
      return (clients.get(id) as BusClientEntity) ?? null;
    },
  } as unknown as ClientRepository;
  const useCase = () =>
    new IssueTokenUseCase(
      repository,
      new LoginRateLimiter(new MemoryLoginFailures(), { maxFailuresPerClient: 2, maxFailuresPerAddress: 10, windowSeconds: 60 }),
      new AccessTokenIssuer({ signingKey: KEY, tokenTtlSeconds: 120 }),
    );

  beforeAll(async () => {
    clients = new Map([['noc-c2', { clientId: 'noc-c2', secretHash: await hashClientSecret('right', { N: 1024, r: 8, p: 1 }), scopes: 'bus checking:read', tokenVersion: 4, incarnation: 'c0ffee' }]]);
  });
  beforeEach(() => (failing = false));

  it('issues a token carrying the client, its scopes and its token version', async () => {
    const issued = await useCase().execute({ clientId: 'noc-c2', clientSecret: 'right' }, 'ip');
    expect(issued).toMatchObject({ expiresIn: 120, scope: 'bus checking:read' });
    expect(verifyAccessToken(issued.accessToken, KEY)).toMatchObject({ sub: 'noc-c2', scope: 'bus checking:read', ver: 4, inc: 'c0ffee' });
  });

  it('narrows to the requested scopes, refusing ones the client lacks', async () => {
    expect((await useCase().execute({ clientId: 'noc-c2', clientSecret: 'right', scope: 'bus' }, 'ip')).scope).toBe('bus');
    await expect(useCase().execute({ clientId: 'noc-c2', clientSecret: 'right', scope: 'bus admin' }, 'ip')).rejects.toMatchObject({ code: 'invalid_scope' });
  });

  it('refuses a wrong secret and an unknown client with the same invalid_client, then refuses further guesses at the id', async () => {
    const uc = useCase();
    const wrong = await uc.execute({ clientId: 'noc-c2', clientSecret: 'wrong' }, 'ip').catch((e: TokenError) => e);
    const unknown = await uc.execute({ clientId: 'ghost', clientSecret: 'wrong' }, 'ip').catch((e: TokenError) => e);
    const malformed = await uc.execute({ clientId: 'Not An Id!', clientSecret: 'wrong' }, 'ip').catch((e: TokenError) => e);
    expect(wrong).toMatchObject({ code: 'invalid_client', description: (unknown as TokenError).description });
    expect(malformed).toMatchObject({ code: 'invalid_client', description: (unknown as TokenError).description });
    await uc.execute({ clientId: 'noc-c2', clientSecret: 'wrong' }, 'ip').catch(() => undefined);
    await expect(uc.execute({ clientId: 'noc-c2', clientSecret: 'wrong' }, 'ip')).rejects.toMatchObject({ code: 'too_many_attempts' });
    // the right secret still passes (issue 12 #7)
    await expect(uc.execute({ clientId: 'noc-c2', clientSecret: 'right' }, 'ip')).resolves.toMatchObject({ scope: 'bus checking:read' });
  });

  it('does not count a login the database could not decide', async () => {
    const uc = useCase();
    failing = true;
    for (let i = 0; i < 3; i++) await expect(uc.execute({ clientId: 'noc-c2', clientSecret: 'right' }, 'ip')).rejects.toThrow('database down');
    failing = false;
    await expect(uc.execute({ clientId: 'noc-c2', clientSecret: 'right' }, 'ip')).resolves.toMatchObject({ scope: 'bus checking:read' });
  });
});
