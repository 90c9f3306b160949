import { ExecutionContext, ForbiddenException, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { signAccessToken } from './access-token';
import { BearerAuthGuard } from './bearer-auth.guard';
import { BearerAuthenticator } from './bearer-authenticator';
import { PRINCIPAL_PROPERTY, REQUIRED_SCOPES } from './decorators';
import { TokenHolder, TokenHolderRepository } from './token-holder.repository';

const KEY = 'k'.repeat(32);
const holders = new Map<string, TokenHolder>();
const repository = { find: async (id: string) => holders.get(id) ?? null } as TokenHolderRepository;
const authenticator = new BearerAuthenticator({ signingKey: KEY, tokenTtlSeconds: 60 }, repository);

function context(authorization: string | undefined, requiredScopes?: string[]) {
  const request: Record<string, unknown> = { headers: { authorization } };
  const headers: Record<string, string> = {};
  const handler = () => undefined;
  if (requiredScopes) Reflect.defineMetadata(REQUIRED_SCOPES, requiredScopes, handler);
  const ctx = {
    switchToHttp: () => ({ getRequest: () => request, getResponse: () => ({ setHeader: (n: string, v: string) => (headers[n] = v) }) }),
    getHandler: () => handler,
    getClass: () => class {},
  } as unknown as ExecutionContext;
  return { ctx, request, headers };
}

const token = (clientId: string, scope: string, ver = 1, ttlSeconds = 60, incarnation = `${clientId}-1`) =>
  signAccessToken({ clientId, scope, tokenVersion: ver, incarnation, ttlSeconds }, KEY).token;

describe('BearerAuthGuard', () => {
  const guard = new BearerAuthGuard(new Reflector(), authenticator);
  beforeEach(() => {
    holders.clear();
    holders.set('noc-c2', { clientId: 'noc-c2', scopes: 'bus', tokenVersion: 1, incarnation: 'noc-c2-1' });
    holders.set('admin', { clientId: 'admin', scopes: 'admin checking:read', tokenVersion: 1, incarnation: 'admin-1' });
  });

  it('lets a valid token through and leaves the caller on the request', async () => {
    const { ctx, request } = context(`Bearer ${token('noc-c2', 'bus')}`, ['bus']);
    await expect(guard.canActivate(ctx)).resolves.toBe(true);
    expect(request[PRINCIPAL_PROPERTY]).toMatchObject({ clientId: 'noc-c2', scopes: ['bus'] });
  });

  it('answers 401 with a bare Bearer challenge when there is no token', async () => {
    for (const authorization of [undefined, 'Basic YTpi']) {
      const { ctx, headers } = context(authorization);
      await expect(guard.canActivate(ctx)).rejects.toBeInstanceOf(UnauthorizedException);
      expect(headers['WWW-Authenticate']).toBe('Bearer realm="purple"');
    }
  });

  it('answers 401 invalid_token for a bad, expired or revoked token', async () => {
    const cases: Array<[string, string]> = [
      ['Bearer nonsense', 'the token is not a JWT'],
      [`Bearer ${token('noc-c2', 'bus', 1, -1)}`, 'the token has expired'],
      [`Bearer ${token('noc-c2', 'bus', 0)}`, 'the token has been revoked'],
      [`Bearer ${token('deleted', 'bus')}`, 'the token has been revoked'],
      // the same id and version, but an earlier incarnation: the client was deleted and re-created since
      [`Bearer ${token('noc-c2', 'bus', 1, 60, 'noc-c2-0')}`, 'the token has been revoked'],
    ];
    for (const [authorization, reason] of cases) {
      const { ctx, headers } = context(authorization);
      await expect(guard.canActivate(ctx)).rejects.toThrow(reason);
      expect(headers['WWW-Authenticate']).toBe(`Bearer realm="purple", error="invalid_token", error_description="${reason}"`);
    }
  });

  it('answers 403 insufficient_scope when the token has none of the required scopes', async () => {
    const { ctx, headers } = context(`Bearer ${token('noc-c2', 'bus')}`, ['admin']);
    await expect(guard.canActivate(ctx)).rejects.toBeInstanceOf(ForbiddenException);
    expect(headers['WWW-Authenticate']).toBe('Bearer realm="purple", error="insufficient_scope", scope="admin"');
  });

  it('accepts any one of several required scopes', async () => {
    const { ctx } = context(`Bearer ${token('admin', 'admin checking:read')}`, ['bus', 'checking:read']);
    await expect(guard.canActivate(ctx)).resolves.toBe(true);
  });

  it('grants only the token scopes the client still holds', async () => {
    holders.set('noc-c2', { clientId: 'noc-c2', scopes: 'checking:read', tokenVersion: 1, incarnation: 'noc-c2-1' });
    const { ctx } = context(`Bearer ${token('noc-c2', 'bus checking:read')}`, ['bus']);
    await expect(guard.canActivate(ctx)).rejects.toBeInstanceOf(ForbiddenException);
  });
});
