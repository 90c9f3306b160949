import type { NextFunction, Request, Response } from 'express';
import { STATUS_CODES } from 'node:http';

interface BodyParserError {
  status?: number;
  type?: string;
  message?: string;
  limit?: number;
}

/**
 * Express error middleware placed right after the body parsers: their errors (oversized or broken bodies) would
 * otherwise reach Express's default handler, which answers in HTML. Answers them as the JSON errors Nest gives.
 */
export function bodyParserErrorsAsJson(maxBodyBytes: number) {
  return (error: BodyParserError, _req: Request, res: Response, next: NextFunction): void => {
    const status = error?.status;
    if (typeof status !== 'number' || status < 400 || status >= 500 || typeof error.type !== 'string') {
      next(error);
      return;
    }
    const message =
      error.type === 'entity.too.large'
        ? `the request body is larger than the limit of ${maxBodyBytes} bytes`
        : error.type === 'entity.parse.failed'
          ? `the request body is not valid JSON: ${error.message}`
          : (error.message ?? 'the request body cannot be read');
    // the request may still be streaming in: close the connection rather than read what we refuse
    if (status === 413) res.setHeader('Connection', 'close');
    res.status(status).json({ statusCode: status, error: STATUS_CODES[status], message });
  };
}
