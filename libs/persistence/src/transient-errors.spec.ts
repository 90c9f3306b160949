import { QueryRunnerAlreadyReleasedError } from 'typeorm';
import { isTransientDatabaseError } from './transient-errors';

describe('isTransientDatabaseError: a pause or a 503, never a dead letter or a 500', () => {
  const withCode = (message: string, code: string) => Object.assign(new Error(message), { code });

  it.each([
    ['refused', withCode('connect ECONNREFUSED 127.0.0.1:5432', 'ECONNREFUSED')],
    ['reset', withCode('read ECONNRESET', 'ECONNRESET')],
    ['shutting down (57P03 on connect)', withCode('the database system is shutting down', '57P03')],
    ['administrator shutdown (57P01)', withCode('terminating connection due to administrator command', '57P01')],
    ['connection exception (08006)', withCode('connection failure', '08006')],
    ['terminated mid-query', new Error('Connection terminated unexpectedly')],
    ['pool timeout', new Error('timeout exceeded when trying to connect')],
    ['a query runner released under a transaction (the connection died)', new QueryRunnerAlreadyReleasedError()],
    ['a serialization failure', withCode('could not serialize access', '40001')],
  ])('%s', (_what, error) => {
    expect(isTransientDatabaseError(error)).toBe(true);
  });

  it.each([
    ['a programming error', new TypeError("Cannot read properties of undefined (reading 'x')")],
    ['a unique violation', withCode('duplicate key value violates unique constraint', '23505')],
    ['a data exception', withCode('invalid input syntax for type uuid', '22P02')],
    ['not an Error', 'ECONNREFUSED'],
  ])('not %s', (_what, error) => {
    expect(isTransientDatabaseError(error)).toBe(false);
  });
});
