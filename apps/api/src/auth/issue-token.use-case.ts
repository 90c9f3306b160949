import { Injectable } from '@nestjs/common';
import { AccessTokenIssuer, IssuedToken, SCOPES, Scope, decoySecretHash, isScope, parseScopes, verifyClientSecret } from '@purple/auth';
import { CLIENT_ID_PATTERN } from '@purple/contracts';
import { BusClientEntity } from '@purple/persistence';
import { ClientRepository } from '../clients/client.repository';
import { LoginRateLimiter } from './login-rate-limiter';
import { TokenError } from './token-error';
import { TokenRequest } from './token-request';

/**
 * `POST /token`, client-credentials grant: checks the secret against its slow hash, under the failed-login limits
 * (see {@link LoginRateLimiter}: the right secret always passes unless its address is locked out), and issues a
 * token for the client's scopes (or the requested subset).
 */
@Injectable()
export class IssueTokenUseCase {
  constructor(
    private readonly clients: ClientRepository,
    private readonly limiter: LoginRateLimiter,
    private readonly issuer: AccessTokenIssuer,
  ) {}

  async execute(request: TokenRequest, sourceAddress: string): Promise<IssuedToken> {
    const attempt = await this.limiter.begin(sourceAddress);
    if ('retryAfterSeconds' in attempt) throw TokenError.tooManyAttempts(attempt.retryAfterSeconds);

    // an id that cannot exist is never looked up nor becomes a key of the limiter (it still counts for the address)
    const wellFormed = CLIENT_ID_PATTERN.test(request.clientId);
    let client: BusClientEntity | null;
    let secretMatches: boolean;
    try {
      client = wellFormed ? await this.clients.findById(request.clientId) : null;
      // an unknown id costs a hash check too, so the answer's timing does not reveal which ids exist
      secretMatches = await verifyClientSecret(request.clientSecret, client?.secretHash ?? (await decoySecretHash()));
    } catch (error) {
      await attempt.undecided();
      throw error;
    }
    if (!client || !secretMatches) {
      const retryAfterSeconds = await attempt.failed(wellFormed ? request.clientId : null);
      if (retryAfterSeconds !== null) throw TokenError.tooManyAttempts(retryAfterSeconds);
      throw TokenError.invalidClient('client authentication failed: unknown client or wrong secret');
    }
    await attempt.succeeded(client.clientId);

    return this.issuer.issue(client, grantedScopes(parseScopes(client.scopes), request.scope));
  }
}

function grantedScopes(held: Scope[], requested: string | undefined): Scope[] {
  if (requested === undefined) {
    if (held.length === 0) throw TokenError.invalidScope('this client holds no scopes');
    return held;
  }
  const words = requested.split(/\s+/).filter(Boolean);
  if (words.length === 0) throw TokenError.invalidScope(`scope is empty: ask for some of ${SCOPES.join(', ')}, or leave it out`);
  const refused = words.filter((word) => !isScope(word) || !held.includes(word));
  if (refused.length > 0) throw TokenError.invalidScope(`scope ${refused.join(' ')} is not granted to this client`);
  return parseScopes(requested);
}
