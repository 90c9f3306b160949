import type { Response } from 'express';
import { EventEmitter } from 'node:events';
import { onResponseSettled } from './response-outcome';

function response(socket: Partial<{ destroyed: boolean; errored: Error | null; writableFinished: boolean }> | null) {
  const res = new EventEmitter() as EventEmitter & { socket: unknown; destroyed: boolean };
  res.socket = socket && { destroyed: false, errored: null, writableFinished: false, ...socket };
  res.destroyed = false;
  return res;
}
const outcomes = (res: ReturnType<typeof response>) => {
  const seen: boolean[] = [];
  onResponseSettled(res as unknown as Response, (written) => seen.push(written));
  return seen;
};

describe('onResponseSettled', () => {
  it('is written when the response finishes on a healthy socket, once', () => {
    const res = response({});
    const seen = outcomes(res);
    res.emit('finish');
    res.emit('close');
    expect(seen).toEqual([true]);
  });

  it('is lost when the connection closes first, or when "finish" comes from a reset connection', () => {
    const closed = response({});
    const seenClosed = outcomes(closed);
    closed.emit('close');
    expect(seenClosed).toEqual([false]);

    const socket = { destroyed: false, errored: null as Error | null, writableFinished: false };
    const reset = response(socket);
    const seenReset = outcomes(reset);
    Object.assign(reset.socket as object, { destroyed: true, errored: new Error('read ECONNRESET') });
    reset.emit('finish');
    expect(seenReset).toEqual([false]);
  });

  it('is lost at once when there is no socket any more', () => {
    expect(outcomes(response(null))).toEqual([false]);
  });
});
