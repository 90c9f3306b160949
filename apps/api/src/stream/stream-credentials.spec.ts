import type { IncomingMessage } from 'node:http';
import { streamCredentials } from './stream-credentials';

const request = (headers: Record<string, string>) => ({ headers }) as unknown as IncomingMessage;

describe('streamCredentials', () => {
  it('reads the Authorization header first', () => {
    expect(streamCredentials(request({ authorization: 'Bearer abc.def.ghi', 'sec-websocket-protocol': 'bearer, other' }))).toEqual({ kind: 'token', token: 'abc.def.ghi' });
  });

  it('reads the token offered after the "bearer" subprotocol', () => {
    expect(streamCredentials(request({ 'sec-websocket-protocol': 'chat, bearer, abc.def.ghi' }))).toEqual({ kind: 'token', token: 'abc.def.ghi' });
    expect(streamCredentials(request({ 'sec-websocket-protocol': 'bearer' }))).toMatchObject({ kind: 'malformed' });
  });

  it('finds nothing otherwise', () => {
    expect(streamCredentials(request({}))).toEqual({ kind: 'none' });
    expect(streamCredentials(request({ 'sec-websocket-protocol': 'chat' }))).toEqual({ kind: 'none' });
    expect(streamCredentials(request({ authorization: 'Basic YTpi' }))).toEqual({ kind: 'none' });
  });
});
