import { HttpException, HttpStatus, Injectable } from '@nestjs/common';
import { ApiEnv } from '../config/api-env';

export type ChannelUse = 'stream' | 'read';

/**
 * How many broker channels one client may hold at once on the api's connection, per use: open streams
 * (STREAM_MAX_PER_CLIENT) and reads of its inbox, long-polls included (RECEIVE_MAX_CONCURRENT_PER_CLIENT). Without
 * it one token could open thousands and starve every other client. Counted per replica.
 */
@Injectable()
export class ClientChannelQuota {
  private readonly held = new Map<string, number>();
  private readonly limits: Record<ChannelUse, number>;

  constructor(env: ApiEnv) {
    this.limits = { stream: env.STREAM_MAX_PER_CLIENT, read: env.RECEIVE_MAX_CONCURRENT_PER_CLIENT };
  }

  /**
   * Takes one slot; the returned function gives it back (once, however often it is called).
   * @throws HttpException 429 when the client already holds its limit
   */
  acquire(clientId: string, use: ChannelUse): () => void {
    const key = `${use}:${clientId}`;
    const count = this.held.get(key) ?? 0;
    const limit = this.limits[use];
    if (count >= limit) {
      const what = use === 'stream' ? 'open streams' : 'concurrent reads of the inbox';
      throw new HttpException(`too many ${what} for client ${clientId} (at most ${limit}); close one first`, HttpStatus.TOO_MANY_REQUESTS);
    }
    this.held.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.held.get(key) ?? 1) - 1;
      if (left > 0) this.held.set(key, left);
      else this.held.delete(key);
    };
  }
}
