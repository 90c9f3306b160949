import { Logger } from '@nestjs/common';
import { createHash } from 'node:crypto';
import { CorrelatedLog, correlationIdOf, dedupeKeyOf } from './message-identity';

describe('correlationIdOf', () => {
  it('takes the AMQP correlation id first, then the x-correlation-id header, then the message id', () => {
    const headers = { 'x-correlation-id': 'from-header' };
    expect(correlationIdOf({ correlationId: 'from-property', messageId: 'm', headers })).toBe('from-property');
    expect(correlationIdOf({ correlationId: undefined, messageId: 'm', headers })).toBe('from-header');
    expect(correlationIdOf({ correlationId: undefined, messageId: 'm', headers: { 'x-correlation-id': Buffer.from('buffered') } })).toBe(
      'buffered',
    );
    expect(correlationIdOf({ correlationId: '', messageId: 'from-message-id', headers: {} })).toBe('from-message-id');
  });

  it('makes up a fresh one when the message carries none', () => {
    const first = correlationIdOf({ correlationId: undefined, messageId: undefined, headers: {} });
    const second = correlationIdOf({ correlationId: undefined, messageId: undefined, headers: undefined });
    expect(first).toMatch(/^[0-9a-f-]{36}$/);
    expect(second).not.toBe(first);
  });
});

describe('dedupeKeyOf', () => {
  const body = Buffer.from('{"operation_id":"op-1"}');

  it("prefers Caldera's link id, then the message id, then a hash of the body", () => {
    expect(dedupeKeyOf('link-1', 'msg-1', body)).toBe('link:link-1');
    expect(dedupeKeyOf(undefined, 'msg-1', body)).toBe('message:msg-1');
    expect(dedupeKeyOf(undefined, undefined, body)).toBe(`sha256:${createHash('sha256').update(body).digest('hex')}`);
  });

  it('gives the same body the same key, and a different body another', () => {
    expect(dedupeKeyOf(undefined, undefined, Buffer.from(body))).toBe(dedupeKeyOf(undefined, undefined, body));
    expect(dedupeKeyOf(undefined, undefined, Buffer.from('{}'))).not.toBe(dedupeKeyOf(undefined, undefined, body));
  });
});

describe('CorrelatedLog', () => {
  it('puts the correlation id and the bound fields on every line', () => {
    const logger = new Logger('test');
    const log = jest.spyOn(logger, 'log').mockImplementation(() => undefined);
    const warn = jest.spyOn(logger, 'warn').mockImplementation(() => undefined);
    const lines = CorrelatedLog.of(logger, 'corr-9', { message_id: 'm-1' });
    lines.with({ execution_id: 'e-1' }).log('stored');
    lines.warn('odd', { extra: 1 });
    expect(log).toHaveBeenCalledWith({ msg: 'stored', correlation_id: 'corr-9', message_id: 'm-1', execution_id: 'e-1' });
    expect(warn).toHaveBeenCalledWith({ msg: 'odd', correlation_id: 'corr-9', message_id: 'm-1', extra: 1 });
  });
});
