import { Inject, Injectable } from '@nestjs/common';
import { AccessTokenClaims, InvalidTokenError, signAccessToken, verifyAccessToken } from './access-token';
import { AUTH_OPTIONS, AuthOptions } from './auth-options';
import { ClientPrincipal } from './client-principal';
import { Scope, formatScopes, parseScopes } from './scopes';
import { TokenHolderRepository } from './token-holder.repository';

/** What `Authorization` held: a bearer token, nothing, or another scheme / a malformed value. */
export type BearerCredentials = { kind: 'token'; token: string } | { kind: 'none' } | { kind: 'malformed'; reason: string };

export function bearerCredentials(authorization: string | undefined): BearerCredentials {
  if (!authorization) return { kind: 'none' };
  const match = /^Bearer +([A-Za-z0-9\-._~+/]+=*) *$/i.exec(authorization);
  if (match) return { kind: 'token', token: match[1] };
  if (/^Bearer\b/i.test(authorization)) return { kind: 'malformed', reason: 'the Authorization header must be "Bearer <token>"' };
  return { kind: 'none' };
}

/** Verifies access tokens: signature and expiry, then that the client still exists with the same token version. */
@Injectable()
export class BearerAuthenticator {
  constructor(
    @Inject(AUTH_OPTIONS) private readonly options: AuthOptions,
    private readonly holders: TokenHolderRepository,
  ) {}

  /** @throws InvalidTokenError saying why the token is refused */
  async authenticate(token: string): Promise<ClientPrincipal> {
    const claims: AccessTokenClaims = verifyAccessToken(token, this.options.signingKey);
    const holder = await this.holders.find(claims.sub);
    // deletion removes the client (a re-created one has a new incarnation) and rotation bumps its version: either
    // way the token is dead at once
    if (!holder || holder.incarnation !== claims.inc || holder.tokenVersion !== claims.ver) throw new InvalidTokenError('the token has been revoked');
    const current = parseScopes(holder.scopes);
    return {
      clientId: claims.sub,
      scopes: parseScopes(claims.scope).filter((s) => current.includes(s)),
      tokenId: claims.jti,
      expiresAt: new Date(claims.exp * 1000),
    };
  }
}

export interface IssuedToken {
  accessToken: string;
  expiresIn: number;
  scope: string;
}

/** Issues access tokens for authenticated clients. */
@Injectable()
export class AccessTokenIssuer {
  constructor(@Inject(AUTH_OPTIONS) private readonly options: AuthOptions) {}

  issue(client: { clientId: string; tokenVersion: number; incarnation: string }, scopes: Scope[]): IssuedToken {
    const scope = formatScopes(scopes);
    const { token } = signAccessToken(
      { clientId: client.clientId, scope, tokenVersion: client.tokenVersion, incarnation: client.incarnation, ttlSeconds: this.options.tokenTtlSeconds },
      this.options.signingKey,
    );
    return { accessToken: token, expiresIn: this.options.tokenTtlSeconds, scope };
  }
}
