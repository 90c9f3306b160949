import type { Response } from 'express';

/**
 * Calls `settled(true)` once the whole response has been handed to the operating system, or `settled(false)` if the
 * connection went away first. Node also emits 'finish' when the peer resets the connection in mid-write (the
 * pending writes fail and are dropped), so the socket's own state decides, not 'finish' alone.
 */
export function onResponseSettled(res: Response, settled: (written: boolean) => void): void {
  const socket = res.socket; // detached from the response by the time 'finish' is emitted
  let done = false;
  const settle = (written: boolean) => {
    if (done) return;
    done = true;
    settled(written);
  };
  if (!socket || socket.destroyed || res.destroyed) return settle(false);
  res.once('finish', () => settle(!socket.errored && !(socket.destroyed && !socket.writableFinished)));
  res.once('close', () => settle(false)); // after 'finish' this changes nothing
}
