import { CanActivate, ExecutionContext, ForbiddenException, Injectable, UnauthorizedException } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { InvalidTokenError } from './access-token';
import { BearerAuthenticator, bearerCredentials } from './bearer-authenticator';
import { PRINCIPAL_PROPERTY, REQUIRED_SCOPES } from './decorators';
import { Scope } from './scopes';

interface HttpRequest {
  headers: Record<string, string | string[] | undefined>;
  [key: string]: unknown;
}
interface HttpResponse {
  setHeader(name: string, value: string): unknown;
}

export const BEARER_REALM = 'purple';

/** An RFC 6750 §3 challenge: `Bearer realm="purple", error="invalid_token", error_description="…"`. */
export function bearerChallenge(error?: 'invalid_request' | 'invalid_token' | 'insufficient_scope', description?: string, scope?: string): string {
  const params = [`realm="${BEARER_REALM}"`];
  if (error) params.push(`error="${error}"`);
  if (description) params.push(`error_description="${description.replace(/["\\]/g, "'")}"`);
  if (scope) params.push(`scope="${scope}"`);
  return `Bearer ${params.join(', ')}`;
}

/**
 * Requires a valid bearer token (401 with `WWW-Authenticate: Bearer` when it is missing, invalid, expired or
 * revoked) and, with {@link RequireScopes}, one of the listed scopes (403). The caller is then available through
 * `@AuthenticatedClient()`.
 */
@Injectable()
export class BearerAuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: BearerAuthenticator,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const request = context.switchToHttp().getRequest<HttpRequest>();
    const response = context.switchToHttp().getResponse<HttpResponse>();
    const header = request.headers['authorization'];
    const credentials = bearerCredentials(Array.isArray(header) ? header[0] : header);
    if (credentials.kind === 'none') {
      response.setHeader('WWW-Authenticate', bearerChallenge());
      throw new UnauthorizedException('a bearer token is required: Authorization: Bearer <token> (get one from POST /token)');
    }
    if (credentials.kind === 'malformed') {
      response.setHeader('WWW-Authenticate', bearerChallenge('invalid_token', credentials.reason));
      throw new UnauthorizedException(credentials.reason);
    }

    let principal;
    try {
      principal = await this.authenticator.authenticate(credentials.token);
    } catch (error) {
      if (!(error instanceof InvalidTokenError)) throw error;
      response.setHeader('WWW-Authenticate', bearerChallenge('invalid_token', error.message));
      throw new UnauthorizedException(error.message);
    }

    const required = this.reflector.getAllAndOverride<Scope[] | undefined>(REQUIRED_SCOPES, [context.getHandler(), context.getClass()]) ?? [];
    if (required.length > 0 && !required.some((scope) => principal.scopes.includes(scope))) {
      const needed = required.join(' ');
      response.setHeader('WWW-Authenticate', bearerChallenge('insufficient_scope', undefined, needed));
      throw new ForbiddenException(`this needs the scope ${required.join(' or ')}; the token has ${principal.scopes.join(' ') || 'none'}`);
    }
    request[PRINCIPAL_PROPERTY] = principal;
    return true;
  }
}
