import { QueryFailedError, QueryRunnerAlreadyReleasedError, QueryRunnerProviderAlreadyReleasedError } from 'typeorm';
import { dispositionOnFailure, retryDelayMs } from './delivery';
import { DatabaseUnavailableError, RejectedMessageError, isTransientFailure } from './errors';

const pgError = (code: string, message = 'failed') => new QueryFailedError('SELECT 1', [], Object.assign(new Error(message), { code }));

describe('isTransientFailure', () => {
  it('retries when the database is unreachable or a transaction lost a race', () => {
    expect(isTransientFailure(new DatabaseUnavailableError())).toBe(true);
    expect(isTransientFailure(Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:5432'), { code: 'ECONNREFUSED' }))).toBe(true);
    expect(isTransientFailure(new Error('Connection terminated unexpectedly'))).toBe(true);
    expect(isTransientFailure(pgError('57P01', 'terminating connection due to administrator command'))).toBe(true);
    expect(isTransientFailure(pgError('08006'))).toBe(true);
    expect(isTransientFailure(pgError('40P01', 'deadlock detected'))).toBe(true);
    // found by the 3-minute database outage suite: responses were dead-lettered with these reasons
    expect(isTransientFailure(new QueryRunnerAlreadyReleasedError())).toBe(true);
    expect(isTransientFailure(new QueryRunnerProviderAlreadyReleasedError())).toBe(true);
  });

  it('does not retry bad input or data the database refuses', () => {
    expect(isTransientFailure(new RejectedMessageError(['timestamp is required']))).toBe(false);
    expect(isTransientFailure(pgError('22P02', 'invalid input syntax for type uuid'))).toBe(false);
    expect(isTransientFailure(pgError('23505', 'duplicate key'))).toBe(false);
    expect(isTransientFailure(new TypeError('x is undefined'))).toBe(false);
    expect(isTransientFailure('a string')).toBe(false);
  });
});

describe('dispositionOnFailure', () => {
  it('keeps a message that met a database outage for when the database answers', () => {
    expect(dispositionOnFailure(new DatabaseUnavailableError())).toEqual({
      action: 'retry-when-open',
      reason: 'database unavailable (database not connected)',
    });
    expect(dispositionOnFailure(pgError('57P01', 'terminating connection due to administrator command'))).toMatchObject({
      action: 'retry-when-open',
    });
    expect(dispositionOnFailure(new QueryRunnerProviderAlreadyReleasedError())).toMatchObject({ action: 'retry-when-open' });
  });

  it('dead-letters everything else with the reason', () => {
    expect(dispositionOnFailure(new RejectedMessageError(['bad'], 'invalid execution result'))).toEqual({
      action: 'dead-letter',
      reason: 'invalid execution result: bad',
    });
    expect(dispositionOnFailure(pgError('23505', 'duplicate key'))).toEqual({ action: 'dead-letter', reason: 'duplicate key' });
  });
});

describe('retryDelayMs', () => {
  it('grows with redeliveries, up to the maximum', () => {
    expect(retryDelayMs({}, 10_000)).toBeLessThanOrEqual(500);
    expect(retryDelayMs({ 'x-delivery-count': 20 }, 2_000)).toBeLessThanOrEqual(2_000);
    expect(retryDelayMs({ 'x-delivery-count': 20 }, 2_000)).toBeGreaterThanOrEqual(1_000);
  });
});
