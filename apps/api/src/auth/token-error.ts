import { ArgumentsHost, Catch, ExceptionFilter, HttpException } from '@nestjs/common';
import type { Response } from 'express';

export type TokenErrorCode = 'invalid_request' | 'invalid_client' | 'unsupported_grant_type' | 'invalid_scope' | 'too_many_attempts';

/** An error of the token endpoint, answered as RFC 6749 §5.2 says: `{error, error_description}`. */
export class TokenError extends HttpException {
  constructor(
    status: number,
    readonly code: TokenErrorCode,
    readonly description: string,
    readonly headers: Record<string, string> = {},
  ) {
    super({ error: code, error_description: description }, status);
  }

  static invalidRequest(description: string): TokenError {
    return new TokenError(400, 'invalid_request', description);
  }

  /** 401 with a Basic challenge: the client may authenticate with HTTP Basic (RFC 6749 §5.2) */
  static invalidClient(description: string): TokenError {
    return new TokenError(401, 'invalid_client', description, { 'WWW-Authenticate': 'Basic realm="purple", charset="UTF-8"' });
  }

  static unsupportedGrantType(description: string): TokenError {
    return new TokenError(400, 'unsupported_grant_type', description);
  }

  static invalidScope(description: string): TokenError {
    return new TokenError(400, 'invalid_scope', description);
  }

  static tooManyAttempts(retryAfterSeconds: number): TokenError {
    return new TokenError(429, 'too_many_attempts', `too many failed logins: try again in ${retryAfterSeconds} s`, {
      'Retry-After': String(retryAfterSeconds),
    });
  }
}

/** Writes a TokenError with its headers; the token endpoint's answers are never cached (RFC 6749 §5.1). */
@Catch(TokenError)
export class TokenErrorFilter implements ExceptionFilter {
  catch(error: TokenError, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<Response>();
    res.set({ 'Cache-Control': 'no-store', Pragma: 'no-cache', ...error.headers });
    res.status(error.getStatus()).json(error.getResponse());
  }
}
