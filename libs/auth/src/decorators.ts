import { ExecutionContext, SetMetadata, createParamDecorator } from '@nestjs/common';
import { ClientPrincipal } from './client-principal';
import { Scope } from './scopes';

export const REQUIRED_SCOPES = 'purple:required-scopes';
/** where {@link BearerAuthGuard} leaves the caller on the request */
export const PRINCIPAL_PROPERTY = 'clientPrincipal';

/**
 * The caller needs at least one of these scopes (403 otherwise). On a controller it applies to every handler; a
 * handler's own list replaces the controller's. Use with {@link BearerAuthGuard}.
 */
export const RequireScopes = (...scopes: Scope[]) => SetMetadata(REQUIRED_SCOPES, scopes);

/** The authenticated caller ({@link ClientPrincipal}), in a handler behind {@link BearerAuthGuard}. */
export const AuthenticatedClient = createParamDecorator((_data: unknown, ctx: ExecutionContext): ClientPrincipal => {
  const principal = ctx.switchToHttp().getRequest<Record<string, unknown>>()[PRINCIPAL_PROPERTY] as ClientPrincipal | undefined;
  if (!principal) throw new Error('@AuthenticatedClient() needs the handler to be guarded by BearerAuthGuard');
  return principal;
});
