import 'reflect-metadata';
import { converUriConfigObjectsToUris } from '@golevelup/nestjs-rabbitmq/lib/amqp/utils';
import { CommonEnv, ConfigError, loadConfig } from '@purple/platform';
import * as amqp from 'amqplib';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer } from 'node:tls';
import { nodeOf } from './broker-connector';
import { brokerSocketOptions, brokerUri, brokerUris } from './broker-connection-options';

const ROLE = { user: 'soar_api', vhost: '/soar' };
const BASE = { DATABASE_URL: 'postgres://x@127.0.0.1/purple' };

/** A CA and a certificate it signs for `localhost`, made with openssl in a temporary directory. */
function makeCertificates(dir: string) {
  const run = (...args: string[]) => execFileSync('openssl', args, { cwd: dir, stdio: 'pipe' });
  run('req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=test-ca');
  run('req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost');
  writeFileSync(join(dir, 'san.ext'), 'subjectAltName=DNS:localhost\n');
  run('x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '1', '-extfile', 'san.ext');
  return { ca: join(dir, 'ca.pem'), key: join(dir, 'server.key'), cert: join(dir, 'server.pem') };
}

describe('AMQP over TLS (issue 12, low)', () => {
  let dir: string;
  let files: ReturnType<typeof makeCertificates>;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'amqps-'));
    files = makeCertificates(dir);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(CommonEnv, { ...BASE, ...env });
      return 'no error';
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
  };

  it('connects with amqp on 5672 by default, as before', () => {
    const env = loadConfig(CommonEnv, BASE);
    expect(converUriConfigObjectsToUris(brokerUri(env, ROLE, 'pw'))).toEqual(['amqp://soar_api:pw@127.0.0.1:5672/%2Fsoar?heartbeat=15']);
    expect(brokerSocketOptions(env, 'api')).toEqual({ clientProperties: { connection_name: 'api' } });
  });

  it('connects with amqps, on 5671 unless RABBITMQ_PORT says otherwise, with the CA file as the only trusted CA', () => {
    const tls = loadConfig(CommonEnv, { ...BASE, RABBITMQ_TLS: 'true', RABBITMQ_HOST: 'mq.example', RABBITMQ_CA_FILE: files.ca });
    expect(converUriConfigObjectsToUris(brokerUri(tls, ROLE, 'pw'))).toEqual(['amqps://soar_api:pw@mq.example:5671/%2Fsoar?heartbeat=15']);
    expect(brokerSocketOptions(tls, 'api').ca).toEqual([readFileSync(files.ca)]);
    const port = loadConfig(CommonEnv, { ...BASE, RABBITMQ_TLS: 'true', RABBITMQ_PORT: '15671' });
    expect(brokerUri(port, ROLE, 'pw')).toMatchObject({ protocol: 'amqps', port: 15671 });
    expect(brokerSocketOptions(port, 'api').ca).toBeUndefined();
  });

  it('refuses to start with a malformed RABBITMQ_TLS, or a RABBITMQ_CA_FILE that is missing, unreadable or without TLS', () => {
    expect(problems({ RABBITMQ_TLS: 'yes' })).toContain('RABBITMQ_TLS is malformed (RABBITMQ_TLS must be true or false)');
    expect(problems({ RABBITMQ_TLS: 'true', RABBITMQ_CA_FILE: join(dir, 'nope.pem') })).toContain('RABBITMQ_CA_FILE is malformed (RABBITMQ_CA_FILE must be a readable file)');
    expect(problems({ RABBITMQ_TLS: 'true', RABBITMQ_CA_FILE: dir })).toContain('RABBITMQ_CA_FILE must be a readable file');
    expect(problems({ RABBITMQ_CA_FILE: files.ca })).toContain('RABBITMQ_CA_FILE needs RABBITMQ_TLS=true');
    expect(problems({ RABBITMQ_TLS: 'false' })).toBe('no error');
  });

  it('amqplib verifies the broker against the CA file with these options, and refuses it without', async () => {
    const handshakes: string[] = [];
    const server = createServer({ key: readFileSync(files.key), cert: readFileSync(files.cert) }, (socket) => {
      handshakes.push('secure');
      socket.destroy(); // not a broker: the TLS handshake is what is tested
    });
    server.on('tlsClientError', () => handshakes.push('refused'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const port = String((server.address() as AddressInfo).port);
      const connectWith = async (extra: Record<string, string>) => {
        const env = loadConfig(CommonEnv, { ...BASE, RABBITMQ_TLS: 'true', RABBITMQ_HOST: 'localhost', RABBITMQ_PORT: port, ...extra });
        const [url] = converUriConfigObjectsToUris(brokerUri(env, ROLE, 'pw'));
        // resolve `localhost` to the server's own address, whatever the resolver prefers
        return amqp.connect(url, { ...brokerSocketOptions(env, 'test'), lookup: loopback }).then(
          (connection) => connection.close().then(() => 'connected'),
          (error: Error) => error.message,
        );
      };
      expect(await connectWith({ RABBITMQ_CA_FILE: files.ca })).not.toMatch(/certificate/);
      expect(handshakes).toEqual(['secure']);
      expect(await connectWith({})).toMatch(/certificate/);
    } finally {
      server.close();
    }
  });
});

describe('several broker nodes: RABBITMQ_URLS (issue 14)', () => {
  const problems = (env: Record<string, string>): string => {
    try {
      loadConfig(CommonEnv, { ...BASE, ...env });
      return 'no error';
    } catch (error) {
      if (error instanceof ConfigError) return error.message;
      throw error;
    }
  };

  it('connects to each listed node in turn, in order, as the app user to its vhost; RABBITMQ_HOST/PORT alone still work', () => {
    const env = loadConfig(CommonEnv, { ...BASE, RABBITMQ_URLS: 'amqp://rabbit-0.mq:5672, amqp://rabbit-1.mq:5673,rabbit-2.mq' });
    expect(converUriConfigObjectsToUris(brokerUris(env, ROLE, 'pw'))).toEqual([
      'amqp://soar_api:pw@rabbit-0.mq:5672/%2Fsoar?heartbeat=15',
      'amqp://soar_api:pw@rabbit-1.mq:5673/%2Fsoar?heartbeat=15',
      'amqp://soar_api:pw@rabbit-2.mq:5672/%2Fsoar?heartbeat=15',
    ]);
    const single = loadConfig(CommonEnv, { ...BASE, RABBITMQ_HOST: 'mq.example', RABBITMQ_PORT: '5999' });
    expect(converUriConfigObjectsToUris(brokerUris(single, ROLE, 'pw'))).toEqual(['amqp://soar_api:pw@mq.example:5999/%2Fsoar?heartbeat=15']);
    const tls = loadConfig(CommonEnv, { ...BASE, RABBITMQ_TLS: 'true', RABBITMQ_URLS: 'amqps://a.mq,b.mq:7000' });
    expect(converUriConfigObjectsToUris(brokerUris(tls, ROLE, 'pw'))).toEqual([
      'amqps://soar_api:pw@a.mq:5671/%2Fsoar?heartbeat=15',
      'amqps://soar_api:pw@b.mq:7000/%2Fsoar?heartbeat=15',
    ]);
  });

  it('refuses RABBITMQ_URLS with credentials, a vhost, another scheme, amqps without RABBITMQ_TLS, or no node, without echoing secrets', () => {
    expect(problems({ RABBITMQ_URLS: 'amqp://u:s3cret@a.mq:5672' })).toContain('RABBITMQ_URLS must not carry credentials');
    expect(problems({ RABBITMQ_URLS: 'amqp://u:s3cret@a.mq:5672' })).not.toContain('s3cret');
    expect(problems({ RABBITMQ_URLS: 'amqp://a.mq/soar' })).toContain('RABBITMQ_URLS must not name a vhost');
    expect(problems({ RABBITMQ_URLS: 'http://a.mq' })).toContain('RABBITMQ_URLS entries must be amqp:// or amqps://');
    expect(problems({ RABBITMQ_URLS: 'amqps://a.mq' })).toContain('RABBITMQ_URLS uses amqps:// but RABBITMQ_TLS is false');
    expect(problems({ RABBITMQ_URLS: ' , ' })).toContain('RABBITMQ_URLS must list at least one node');
    expect(problems({ RABBITMQ_URLS: 'a.mq:5672,b.mq' })).toBe('no error');
  });

  it('names the node a connection is on, from a URL or amqplib options', () => {
    expect(nodeOf('amqp://u:p@rabbit-1.mq:5673/%2Fsoar?heartbeat=15')).toBe('rabbit-1.mq:5673');
    expect(nodeOf({ protocol: 'amqps', hostname: 'rabbit-2.mq', port: 5671 })).toBe('rabbit-2.mq:5671');
    expect(nodeOf({ url: 'amqp://rabbit-0.mq' })).toBe('rabbit-0.mq:5672');
    expect(nodeOf(undefined)).toBeUndefined();
  });
});

/** dns.lookup replacement: `localhost` is 127.0.0.1, where the test server listens. */
function loopback(_host: string, options: unknown, callback?: unknown): void {
  const done = (typeof options === 'function' ? options : callback) as (...args: unknown[]) => void;
  const all = typeof options === 'object' && options !== null && (options as { all?: boolean }).all;
  if (all) done(null, [{ address: '127.0.0.1', family: 4 }]);
  else done(null, '127.0.0.1', 4);
}
