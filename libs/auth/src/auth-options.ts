export interface AuthOptions {
  /** HS256 key for access tokens (TOKEN_SIGNING_KEY), at least 32 characters; shared by every api replica */
  signingKey: string;
  /** access token lifetime (TOKEN_TTL_SECONDS) */
  tokenTtlSeconds: number;
}

export const AUTH_OPTIONS = Symbol('AUTH_OPTIONS');
