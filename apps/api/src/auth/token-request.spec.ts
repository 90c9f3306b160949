import { TokenError } from './token-error';
import { readTokenRequest } from './token-request';

const basic = (credentials: string) => `Basic ${Buffer.from(credentials).toString('base64')}`;
const errorOf = (body: unknown, authorization?: string) => {
  try {
    readTokenRequest(body, authorization);
  } catch (error) {
    if (error instanceof TokenError) return { status: error.getStatus(), code: error.code, description: error.description };
    throw error;
  }
  throw new Error('no error');
};

describe('readTokenRequest', () => {
  it('reads credentials from the body', () => {
    expect(readTokenRequest({ grant_type: 'client_credentials', client_id: 'a', client_secret: 's', scope: 'bus' }, undefined)).toEqual({
      clientId: 'a',
      clientSecret: 's',
      scope: 'bus',
    });
  });

  it('reads credentials from HTTP Basic, undoing %-escapes and keeping a literal +', () => {
    expect(readTokenRequest({ grant_type: 'client_credentials' }, basic('noc-c2:a+b%3Ac'))).toEqual({ clientId: 'noc-c2', clientSecret: 'a+b:c', scope: undefined });
    expect(readTokenRequest({ grant_type: 'client_credentials', client_id: 'noc-c2' }, basic('noc-c2:x'))).toMatchObject({ clientId: 'noc-c2' });
  });

  it('refuses what RFC 6749 refuses, with its error codes', () => {
    expect(errorOf({})).toEqual({ status: 400, code: 'invalid_request', description: 'grant_type is required' });
    expect(errorOf({ grant_type: 'authorization_code' })).toMatchObject({ status: 400, code: 'unsupported_grant_type' });
    expect(errorOf({ grant_type: ['client_credentials', 'client_credentials'] })).toMatchObject({ code: 'invalid_request' });
    expect(errorOf('grant_type=client_credentials')).toMatchObject({ code: 'invalid_request' });
    expect(errorOf({ grant_type: 'client_credentials' })).toMatchObject({ status: 401, code: 'invalid_client' });
    expect(errorOf({ grant_type: 'client_credentials', client_id: 'a' })).toMatchObject({ status: 401, code: 'invalid_client' });
    expect(errorOf({ grant_type: 'client_credentials', client_secret: 's' }, basic('a:s'))).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(errorOf({ grant_type: 'client_credentials', client_id: 'b' }, basic('a:s'))).toMatchObject({ status: 400, code: 'invalid_request' });
    expect(errorOf({ grant_type: 'client_credentials' }, basic('no-colon'))).toMatchObject({ status: 401, code: 'invalid_client' });
    expect(errorOf({ grant_type: 'client_credentials' }, 'Basic !!!')).toMatchObject({ status: 401, code: 'invalid_client' });
  });

  it('puts a Basic challenge on invalid_client', () => {
    try {
      readTokenRequest({ grant_type: 'client_credentials' }, undefined);
    } catch (error) {
      expect((error as TokenError).headers['WWW-Authenticate']).toMatch(/^Basic realm="purple"/);
    }
    expect.assertions(1);
  });
});
