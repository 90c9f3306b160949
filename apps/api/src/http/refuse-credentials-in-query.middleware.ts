import { BadRequestException, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** Query parameters that would carry a credential: URLs end up in logs, proxies and browser history. */
export const CREDENTIAL_QUERY_PARAMETERS = ['client_secret', 'access_token'];

/** The credential parameters present in a request URL's query string. */
export function credentialsInQuery(url: string | undefined): string[] {
  const query = (url ?? '').split('?')[1];
  if (!query) return [];
  const names = new URLSearchParams(query);
  return CREDENTIAL_QUERY_PARAMETERS.filter((name) => names.has(name));
}

/** Refuses any request with a secret in its query string (400), before anything else looks at it. */
@Injectable()
export class RefuseCredentialsInQueryMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    const found = credentialsInQuery(req.originalUrl ?? req.url);
    if (found.length > 0) {
      throw new BadRequestException(
        `credentials must not be sent in the query string (${found.join(', ')}): use the Authorization header or the request body`,
      );
    }
    next();
  }
}
