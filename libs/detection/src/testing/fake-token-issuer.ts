import type { RecordedRequest } from './fake-http-server';

/**
 * The OAuth2 client-credentials side of a fake product (CrowdStrike, Sentinel): issues numbered bearer tokens
 * (`<prefix>-1`, `<prefix>-2`…), tells whether a request carries one it issued and has not revoked, and revokes
 * them all as if they had expired. The fake checks the grant itself and words the answers as its product does.
 */
export class FakeTokenIssuer {
  /** every token issued, in order */
  readonly issued: string[] = [];
  /** `expires_in` of the tokens it issues */
  lifetimeSeconds: number;
  private readonly valid = new Set<string>();

  constructor(
    private readonly prefix: string,
    private readonly defaultLifetimeSeconds: number,
  ) {
    this.lifetimeSeconds = defaultLifetimeSeconds;
  }

  /** a new valid token */
  issue(): string {
    const token = `${this.prefix}-${this.issued.length + 1}`;
    this.issued.push(token);
    this.valid.add(token);
    return token;
  }

  /** whether `request` carries `Authorization: Bearer <a token issued and not revoked>` */
  accepts(request: RecordedRequest): boolean {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
    return token !== undefined && this.valid.has(token);
  }

  /** the tokens issued so far stop working (as if they expired) */
  revoke(): void {
    this.valid.clear();
  }

  /** forgets every token (numbering starts again at 1) and restores the default lifetime */
  reset(): void {
    this.issued.length = 0;
    this.valid.clear();
    this.lifetimeSeconds = this.defaultLifetimeSeconds;
  }
}
