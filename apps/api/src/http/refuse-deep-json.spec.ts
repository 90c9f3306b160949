import type { NextFunction, Request, Response } from 'express';
import { MAX_JSON_DEPTH } from '@purple/contracts';
import { refuseDeepJson } from './refuse-deep-json';

function run(body: unknown): { status?: number; json?: unknown; next: boolean } {
  const outcome: { status?: number; json?: unknown; next: boolean } = { next: false };
  const res = {
    status(code: number) {
      outcome.status = code;
      return this;
    },
    json(value: unknown) {
      outcome.json = value;
      return this;
    },
  } as unknown as Response;
  refuseDeepJson({ body } as Request, res, (() => (outcome.next = true)) as NextFunction);
  return outcome;
}

describe('refuseDeepJson (20,000 nested arrays overflowed class-transformer and JSON.stringify: a 500)', () => {
  it('refuses a body nested deeper than MAX_JSON_DEPTH with a 400 that says so', () => {
    // as body-parser hands it over: a 40 kB body, 20,000 levels deep
    const deep = JSON.parse(`${'['.repeat(20_000)}${']'.repeat(20_000)}`);
    expect(run(deep)).toEqual({
      status: 400,
      json: { statusCode: 400, error: 'Bad Request', message: `the request body is nested deeper than ${MAX_JSON_DEPTH} levels` },
      next: false,
    });
  });

  it('refuses a key named constructor or __proto__ at any depth (POST /send with topic {"constructor":…} answered 500)', () => {
    for (const body of [{ topic: { constructor: { prototype: { admin: true } } } }, { message: [{ a: JSON.parse('{"__proto__":{"x":1}}') }] }]) {
      expect(run(body)).toMatchObject({ status: 400, next: false });
    }
  });

  it('lets ordinary bodies, and requests without one, through', () => {
    expect(run({ topic: 'a.b', message: { lat: 1, tags: [['x']] } })).toEqual({ next: true });
    expect(run(undefined)).toEqual({ next: true });
  });
});
