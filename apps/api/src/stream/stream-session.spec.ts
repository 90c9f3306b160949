import { EventEmitter } from 'node:events';
import type { WebSocket } from 'ws';
import { MAX_PENDING_FRAMES, SessionDependencies, StreamSession } from './stream-session';

/** Just enough of a ws socket: it records pause/resume and what was sent. */
class FakeSocket extends EventEmitter {
  readyState = 1; // OPEN
  isPaused = false;
  pauses = 0;
  readonly sent: string[] = [];
  pause() {
    this.isPaused = true;
    this.pauses++;
  }
  resume() {
    this.isPaused = false;
  }
  send(data: string) {
    this.sent.push(data);
  }
  close() {
    this.readyState = 3;
  }
  ping() {
    return undefined;
  }
  terminate() {
    return undefined;
  }
}

describe('StreamSession incoming frames (issue 12 #8)', () => {
  it('stops reading the socket while MAX_PENDING_FRAMES frames wait, and reads again once they drain', async () => {
    const socket = new FakeSocket();
    const gates: Array<() => void> = [];
    const deps = {
      channels: { open: () => new Promise(() => undefined) },
      authenticator: { authenticate: async () => undefined },
      // each send waits until the test lets it through
      sendMessage: { execute: () => new Promise<string>((resolve) => gates.push(() => resolve('id'))) },
      notify: { execute: async () => 'id' },
      prefetch: 1,
    } as unknown as SessionDependencies;
    const session = new StreamSession(socket as unknown as WebSocket, { clientId: 'c', scopes: ['bus'], tokenId: 't', expiresAt: new Date(Date.now() + 60_000) }, 'token', deps);
    void session.start();

    const frame = Buffer.from(JSON.stringify({ type: 'send', topic: 'soar.x', message: {} }));
    for (let i = 0; i < MAX_PENDING_FRAMES - 1; i++) socket.emit('message', frame, false);
    expect(socket.isPaused).toBe(false);
    socket.emit('message', frame, false);
    expect(socket.isPaused).toBe(true);

    // let them through one at a time: reading resumes as soon as fewer are waiting
    for (let drained = 0; socket.isPaused && drained < MAX_PENDING_FRAMES; drained++) {
      await new Promise((resolve) => setImmediate(resolve));
      gates.shift()?.();
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(socket.isPaused).toBe(false);
    expect(socket.pauses).toBe(1);
    session.close(1000, 'done');
  });
});
