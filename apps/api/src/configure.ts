import { INestApplication } from '@nestjs/common';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { ApiEnv } from './config/api-env';
import { bodyParserErrorsAsJson } from './http/body-parser-errors';
import { refuseDeepJson } from './http/refuse-deep-json';
import { securityHeaders } from './http/security-headers';
import { setupSwagger } from './swagger';

/**
 * HTTP set-up before the api listens (main.ts and the tests): body limits of MAX_BODY_BYTES for JSON and form
 * bodies, their errors as JSON (413, 400), Helmet-like security headers on every answer, and Swagger when
 * EXPOSE_DOCS allows (by default only in development: the document maps every route for an attacker).
 */
export function configureApi(app: INestApplication): void {
  const http = app as NestExpressApplication;
  const env = app.get(ApiEnv);
  const { MAX_BODY_BYTES } = env;
  http.disable('x-powered-by');
  http.use(securityHeaders);
  // req.ip is then the caller as the trusted proxies report it (X-Forwarded-For), and the socket's peer otherwise
  if (env.trustedProxies.length > 0) http.set('trust proxy', env.trustedProxies);
  // registered before Nest would add its own default (100 kB) parsers, which it then skips
  http.useBodyParser('json', { limit: MAX_BODY_BYTES });
  http.useBodyParser('urlencoded', { limit: MAX_BODY_BYTES, extended: false });
  http.use(bodyParserErrorsAsJson(MAX_BODY_BYTES));
  http.use(refuseDeepJson);
  if (env.docsExposed) setupSwagger(app);
}
