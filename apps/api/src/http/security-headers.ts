import type { NextFunction, Request, Response } from 'express';

/** What Helmet's defaults set, for an api that serves JSON (and the Swagger UI at /docs). */
const COMMON_HEADERS: Record<string, string> = {
  'Cross-Origin-Opener-Policy': 'same-origin',
  'Cross-Origin-Resource-Policy': 'same-origin',
  'Origin-Agent-Cluster': '?1',
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=31536000; includeSubDomains',
  'X-Content-Type-Options': 'nosniff',
  'X-DNS-Prefetch-Control': 'off',
  'X-Download-Options': 'noopen',
  'X-Frame-Options': 'DENY',
  'X-Permitted-Cross-Domain-Policies': 'none',
  // the legacy XSS auditor did more harm than good: Helmet turns it off too
  'X-XSS-Protection': '0',
};

/** JSON answers load nothing; the Swagger UI needs its own scripts, styles and inline images. */
const API_CSP = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";
const DOCS_CSP =
  "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; object-src 'none'; frame-ancestors 'none'; base-uri 'self'; form-action 'self'";

/**
 * Helmet's protective headers, set by hand (Helmet is not a dependency of this workspace): every answer gets them,
 * before any route runs.
 */
export function securityHeaders(req: Request, res: Response, next: NextFunction): void {
  for (const [name, value] of Object.entries(COMMON_HEADERS)) res.setHeader(name, value);
  const path = (req.originalUrl ?? req.url).split('?')[0];
  res.setHeader('Content-Security-Policy', path === '/docs' || path.startsWith('/docs/') || path.startsWith('/docs-') ? DOCS_CSP : API_CSP);
  next();
}
