import { MAX_JSON_DEPTH, jsonDepthExceeds, unreadableKeyIn } from '@purple/contracts';
import type { NextFunction, Request, Response } from 'express';

/**
 * Refuses (400) a parsed body nested deeper than MAX_JSON_DEPTH, right after the body parsers: the validation pipe
 * (class-transformer) and the publisher (JSON.stringify) recurse once per level, and 20,000 nested arrays in a 40 kB
 * body overflowed the stack (a 500) before any route saw them. Also a body holding a key named `constructor` (or
 * `__proto__`), which made class-transformer throw (a 500 the security suite found, seed 492054338).
 */
export function refuseDeepJson(req: Request, res: Response, next: NextFunction): void {
  if (typeof req.body === 'object' && req.body !== null && jsonDepthExceeds(req.body)) {
    res.status(400).json({ statusCode: 400, error: 'Bad Request', message: `the request body is nested deeper than ${MAX_JSON_DEPTH} levels` });
    return;
  }
  const key = typeof req.body === 'object' && req.body !== null ? unreadableKeyIn(req.body) : undefined;
  if (key) {
    res.status(400).json({ statusCode: 400, error: 'Bad Request', message: `the request body holds a key named ${key}, which this api does not take` });
    return;
  }
  next();
}
