import { BadRequestException, Injectable, NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, Response } from 'express';

/** NUL and the other C0 controls: no identifier or filter of this api holds one, and PostgreSQL refuses NUL in text. */
// eslint-disable-next-line no-control-regex -- finding control characters is the point
const CONTROL = /[\u0000-\u001f\u007f]/;

/** Where a request's path or query holds a control character once decoded (or is not valid percent-encoding). */
export function controlCharacterIn(url: string): 'path' | 'query' | undefined {
  const [path, query = ''] = url.split('?', 2);
  const decode = (text: string) => {
    try {
      return decodeURIComponent(text.replace(/\+/g, ' '));
    } catch {
      return '\u0000'; // malformed %-encoding is refused the same way
    }
  };
  if (CONTROL.test(decode(path))) return 'path';
  if (CONTROL.test(decode(query))) return 'query';
  return undefined;
}

/** Refuses (400) a path or query with a control character before any route, pipe or query sees it. */
@Injectable()
export class RefuseControlCharactersMiddleware implements NestMiddleware {
  use(req: Request, _res: Response, next: NextFunction): void {
    const where = controlCharacterIn(req.originalUrl ?? req.url);
    if (where) throw new BadRequestException(`the ${where} holds a control character (such as NUL) or malformed percent-encoding`);
    next();
  }
}
