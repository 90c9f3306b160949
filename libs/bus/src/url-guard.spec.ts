import { nonPublicKind, parseCidr, parseIpAddress } from './ip-address';
import { DeliverableUrlOptions, ResolvedAddress, UndeliverableUrlError, assertDeliverableUrl, parseAllowlist, resolveDeliverableUrl, splitAllowlist } from './url-guard';

/** a resolver answering from a fixed table, so the tests need no DNS */
const resolver = (table: Record<string, string[]>) => async (host: string): Promise<ResolvedAddress[]> => {
  const answers = table[host];
  if (!answers) throw Object.assign(new Error(`getaddrinfo ENOTFOUND ${host}`), { code: 'ENOTFOUND' });
  return answers.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
};

describe('address classification', () => {
  it.each([
    ['127.0.0.1', 'loopback'],
    ['127.255.255.254', 'loopback'],
    ['10.1.2.3', 'private'],
    ['172.16.0.1', 'private'],
    ['172.31.255.255', 'private'],
    ['192.168.1.1', 'private'],
    ['169.254.169.254', 'link-local'],
    ['100.64.0.1', 'carrier-grade NAT (shared)'],
    ['100.127.255.255', 'carrier-grade NAT (shared)'],
    ['0.0.0.0', 'unspecified ("this network")'],
    ['224.0.0.1', 'multicast'],
    ['239.255.255.250', 'multicast'],
    ['255.255.255.255', 'reserved'],
    ['192.0.2.10', 'documentation'],
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local'],
    ['fc00::1', 'private (unique local)'],
    ['fd12:3456:789a::1', 'private (unique local)'],
    ['ff02::1', 'multicast'],
    ['2001:db8::1', 'documentation'],
    ['::ffff:127.0.0.1', 'loopback'],
    ['::ffff:7f00:1', 'loopback'],
    ['::ffff:10.0.0.1', 'private'],
    ['::ffff:169.254.169.254', 'link-local'],
    ['64:ff9b::a00:1', 'private'],
    ['2002:c0a8:101::1', 'private'],
    ['::127.0.0.1', 'reserved (IPv4-compatible)'],
  ])('%s is %s', (address, kind) => {
    expect(nonPublicKind(address)).toBe(kind);
  });

  it.each(['8.8.8.8', '1.1.1.1', '172.32.0.1', '100.128.0.1', '172.15.255.255', '2606:4700:4700::1111', '2a00:1450:4001:81b::200e', '::ffff:8.8.8.8', '64:ff9b::808:808'])(
    '%s is public',
    (address) => {
      expect(nonPublicKind(address)).toBeNull();
    },
  );

  it('parses addresses and CIDRs of both families, refusing malformed ones', () => {
    expect(parseIpAddress('[::1]')).toBe(1n);
    expect(parseIpAddress('::ffff:1.2.3.4')).toBe(parseIpAddress('1.2.3.4'));
    expect(parseIpAddress('example.com')).toBeUndefined();
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
    expect(parseCidr('fc00::/129')).toBeUndefined();
    expect(parseCidr('10.0.0.0/8/1')).toBeUndefined();
    expect(parseCidr('10.9.9.9/8')).toEqual(parseCidr('10.0.0.0/8'));
    expect(() => nonPublicKind('nope')).toThrow('not an IP address');
  });
});

describe('assertDeliverableUrl', () => {
  const resolve = resolver({
    'hooks.example.com': ['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946'],
    'rebind.example.com': ['93.184.216.34', '10.0.0.7'],
    'internal.example.com': ['192.168.10.20'],
    'v6only.example.com': ['fd00::20'],
    localhost: ['127.0.0.1', '::1'],
  });

  const refusal = async (url: string, options: DeliverableUrlOptions = {}) => {
    try {
      await assertDeliverableUrl(url, { resolve, ...options });
    } catch (error) {
      expect(error).toBeInstanceOf(UndeliverableUrlError);
      return (error as Error).message;
    }
    return null;
  };

  it('accepts public hosts and public address literals', async () => {
    expect(await refusal('https://hooks.example.com/soar')).toBeNull();
    expect(await refusal('http://93.184.216.34/x')).toBeNull();
    expect(await refusal('https://[2606:4700:4700::1111]/x')).toBeNull();
  });

  it.each([
    ['http://127.0.0.1:9000/hook', 'host 127.0.0.1 is a loopback address'],
    ['http://[::1]/hook', 'host ::1 is a loopback address'],
    ['http://[::ffff:127.0.0.1]/hook', 'loopback'],
    ['http://[::ffff:a9fe:a9fe]/latest/meta-data', 'link-local'],
    ['http://169.254.169.254/latest/meta-data', 'link-local'],
    ['http://100.100.1.1/', 'carrier-grade NAT'],
    ['http://0.0.0.0/', 'unspecified'],
    ['http://[fe80::1]/', 'link-local'],
    ['http://localhost:3000/hook', 'host localhost resolves to 127.0.0.1, which is a loopback address'],
    ['https://internal.example.com/', 'resolves to 192.168.10.20, which is a private address'],
    ['https://v6only.example.com/', 'resolves to fd00::20, which is a private (unique local) address'],
    // one private answer among public ones is enough: the connection could use any of them
    ['https://rebind.example.com/', 'resolves to 10.0.0.7'],
  ])('refuses %s', async (url, reason) => {
    expect(await refusal(url)).toContain(reason);
  });

  it('refuses malformed URLs, other schemes, credentials and hosts that do not resolve, with a reason', async () => {
    expect(await refusal('not a url')).toBe('webhook URL is not a valid absolute URL');
    expect(await refusal('ftp://hooks.example.com/x')).toBe('webhook URL must use http or https, not ftp');
    expect(await refusal('https://user:pw@hooks.example.com/x')).toBe('webhook URL must not contain credentials');
    expect(await refusal('https://nowhere.example.com/x')).toBe('webhook URL host nowhere.example.com does not resolve (ENOTFOUND)');
  });

  it('allows private addresses when an operator allows them, wholesale or by allowlist', async () => {
    expect(await refusal('http://127.0.0.1:9000/', { allowPrivate: true })).toBeNull();
    expect(await refusal('http://127.0.0.1:9000/', { allowlist: ['127.0.0.1'] })).toBeNull();
    expect(await refusal('http://localhost:9000/', { allowlist: ['127.0.0.0/8', '::1/128'] })).toBeNull();
    expect(await refusal('http://localhost:9000/', { allowlist: ['127.0.0.0/8'] })).toContain('resolves to ::1');
    expect(await refusal('https://internal.example.com/', { allowlist: ['internal.example.com'] })).toBeNull();
    expect(await refusal('https://internal.example.com/', { allowlist: ['*.example.com'] })).toBeNull();
    expect(await refusal('https://internal.example.com/', { allowlist: ['192.168.0.0/16'] })).toBeNull();
    expect(await refusal('https://internal.example.com/', { allowlist: ['10.0.0.0/8', 'other.example.com'] })).toContain('private');
    expect(await refusal('http://[fd00::20]/', { allowlist: ['fd00::/8'] })).toBeNull();
    expect(await refusal('http://[::ffff:10.1.1.1]/', { allowlist: ['10.0.0.0/8'] })).toBeNull();
  });

  it('allows ports 80 and 443, any other only for an allowlisted host or address (issue 12, low)', async () => {
    expect(await refusal('https://hooks.example.com/')).toBeNull();
    expect(await refusal('http://hooks.example.com:80/')).toBeNull();
    expect(await refusal('https://hooks.example.com:443/')).toBeNull();
    expect(await refusal('https://hooks.example.com:8443/')).toBe('webhook URL port 8443 is not allowed: use 80 or 443, or have an operator allowlist the host');
    expect(await refusal('http://93.184.216.34:6379/')).toContain('port 6379 is not allowed');
    expect(await refusal('https://hooks.example.com:8443/', { allowlist: ['hooks.example.com'] })).toBeNull();
    expect(await refusal('http://93.184.216.34:8080/', { allowlist: ['93.184.216.0/24'] })).toBeNull();
  });

  it('still checks what an allowlisted name resolves to: private is fine, loopback or link-local is not (issue 12, low)', async () => {
    const table = resolver({ 'hooks.internal': ['10.0.0.5'], 'metadata.internal': ['169.254.169.254'], 'self.internal': ['127.0.0.1'] });
    expect(await refusal('https://hooks.internal/', { allowlist: ['hooks.internal'], resolve: table })).toBeNull();
    expect(await refusal('http://metadata.internal/latest', { allowlist: ['*.internal'], resolve: table })).toContain(
      'webhook URL host metadata.internal resolves to 169.254.169.254, which is a link-local address; an allowlisted name never reaches',
    );
    expect(await refusal('http://self.internal/', { allowlist: ['self.internal'], resolve: table })).toContain('which is a loopback address');
    // unless the address itself is allowlisted
    expect(await refusal('http://self.internal/', { allowlist: ['self.internal', '127.0.0.1'], resolve: table })).toBeNull();
  });

  it('gives the addresses it checked, for the delivery to connect to', async () => {
    const target = await resolveDeliverableUrl('https://hooks.example.com/soar?x=1', { resolve });
    expect(target.url.pathname).toBe('/soar');
    expect(target.addresses.map((a) => a.address)).toEqual(['93.184.216.34', '2606:2800:220:1:248:1893:25c8:1946']);
  });

  it('resolves real names with the system resolver', async () => {
    expect(await refusal('http://localhost:1/', { resolve: undefined })).toMatch(/localhost resolves to (127\.0\.0\.1|::1), which is a loopback address/);
  });
});

describe('allowlist parsing', () => {
  it('splits the environment variable and refuses entries it cannot understand', () => {
    expect(splitAllowlist(' 127.0.0.1/8, ::1 hooks.internal,,')).toEqual(['127.0.0.1/8', '::1', 'hooks.internal']);
    expect(splitAllowlist(undefined)).toEqual([]);
    expect(() => parseAllowlist(['10.0.0.0/40'])).toThrow('allowlist entry "10.0.0.0/40"');
    expect(() => parseAllowlist(['http://x'])).toThrow('is not a host name');
    const list = parseAllowlist(['Hooks.Internal', '*.corp.example']);
    expect(list.hostMatches('hooks.internal.')).toBe(true);
    expect(list.hostMatches('a.b.corp.example')).toBe(true);
    expect(list.hostMatches('corp.example')).toBe(false);
    expect(list.hostMatches('evilcorp.example')).toBe(false);
  });
});
