import { Scope } from './scopes';

/** Who is calling, established from a verified bearer token and the client's current record. */
export interface ClientPrincipal {
  clientId: string;
  /** the token's scopes that the client still holds */
  scopes: Scope[];
  /** the token's `jti` */
  tokenId: string;
  expiresAt: Date;
}

export const hasScope = (principal: ClientPrincipal, scope: Scope): boolean => principal.scopes.includes(scope);
