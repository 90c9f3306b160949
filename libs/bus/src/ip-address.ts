import { isIP } from 'node:net';

/**
 * IP addresses as 128-bit numbers, IPv4 as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), so one table of ranges covers
 * both families and a mapped address is judged exactly like the IPv4 address it stands for.
 */

const IPV4_MAPPED_PREFIX = 0xffffn << 32n;
const ALL_ONES = (1n << 128n) - 1n;

/** `10.0.0.1`, `::1`, `[fe80::1%eth0]`, `::ffff:127.0.0.1` → 128-bit value; undefined when not an IP address. */
export function parseIpAddress(text: string): bigint | undefined {
  const bare = text.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  const version = isIP(bare);
  if (version === 4) return IPV4_MAPPED_PREFIX | parseIpv4(bare);
  if (version === 6) return parseIpv6(bare);
  return undefined;
}

function parseIpv4(text: string): bigint {
  return text.split('.').reduce((acc, octet) => (acc << 8n) | BigInt(Number(octet)), 0n);
}

function parseIpv6(text: string): bigint {
  let groups = text.toLowerCase();
  // a trailing dotted quad (`::ffff:1.2.3.4`) stands for the last two 16-bit groups
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(groups);
  if (dotted) {
    const v4 = parseIpv4(dotted[1]);
    groups = groups.slice(0, -dotted[1].length) + `${(v4 >> 16n).toString(16)}:${(v4 & 0xffffn).toString(16)}`;
  }
  const [head, tail] = groups.split('::');
  const headGroups = head ? head.split(':') : [];
  const tailGroups = tail === undefined ? [] : tail ? tail.split(':') : [];
  const zeros = tail === undefined ? [] : new Array<string>(8 - headGroups.length - tailGroups.length).fill('0');
  return [...headGroups, ...zeros, ...tailGroups].reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n);
}

/** A range of addresses in the 128-bit space. */
export interface AddressRange {
  first: bigint;
  prefixLength: number;
}

/** `10.0.0.0/8`, `fc00::/7`, or one address (`192.0.2.7`, `::1`) as a range of one; undefined when malformed. */
export function parseCidr(text: string): AddressRange | undefined {
  const [addressPart, lengthPart, extra] = text.trim().split('/');
  if (extra !== undefined) return undefined;
  const address = parseIpAddress(addressPart);
  if (address === undefined) return undefined;
  const isV4 = isIP(addressPart.replace(/^\[(.*)\]$/, '$1')) === 4;
  const maxLength = isV4 ? 32 : 128;
  if (lengthPart !== undefined && !/^\d{1,3}$/.test(lengthPart)) return undefined;
  const length = lengthPart === undefined ? maxLength : Number(lengthPart);
  if (length > maxLength) return undefined;
  const prefixLength = isV4 ? 96 + length : length;
  return { first: address & mask(prefixLength), prefixLength };
}

const mask = (prefixLength: number): bigint => (ALL_ONES << BigInt(128 - prefixLength)) & ALL_ONES;

export const inRange = (address: bigint, range: AddressRange): boolean =>
  (address & mask(range.prefixLength)) === range.first;

const range = (cidr: string): AddressRange => {
  const parsed = parseCidr(cidr);
  if (!parsed) throw new Error(`bad built-in range ${cidr}`);
  return parsed;
};

/**
 * Addresses a webhook must not reach unless an operator allows it: everything in the IANA special-purpose
 * registries that is not globally reachable, plus multicast and reserved space. First match wins.
 */
const NON_PUBLIC_RANGES: ReadonlyArray<{ range: AddressRange; kind: string }> = [
  // IPv4 (as mapped)
  ['0.0.0.0/8', 'unspecified ("this network")'],
  ['10.0.0.0/8', 'private'],
  ['100.64.0.0/10', 'carrier-grade NAT (shared)'],
  ['127.0.0.0/8', 'loopback'],
  ['169.254.0.0/16', 'link-local'],
  ['172.16.0.0/12', 'private'],
  ['192.0.0.0/24', 'IETF protocol assignment'],
  ['192.0.2.0/24', 'documentation'],
  ['192.88.99.0/24', 'reserved (6to4 relay)'],
  ['192.168.0.0/16', 'private'],
  ['198.18.0.0/15', 'benchmarking'],
  ['198.51.100.0/24', 'documentation'],
  ['203.0.113.0/24', 'documentation'],
  ['224.0.0.0/4', 'multicast'],
  ['240.0.0.0/4', 'reserved'],
  // IPv6
  ['::/128', 'unspecified'],
  ['::1/128', 'loopback'],
  ['::/96', 'reserved (IPv4-compatible)'],
  ['64:ff9b:1::/48', 'private (local-use NAT64)'],
  ['100::/64', 'discard-only'],
  ['2001:db8::/32', 'documentation'],
  ['2001:2::/48', 'benchmarking'],
  ['fc00::/7', 'private (unique local)'],
  ['fe80::/10', 'link-local'],
  ['fec0::/10', 'site-local'],
  ['ff00::/8', 'multicast'],
].map(([cidr, kind]) => ({ range: range(cidr), kind }));

/** IPv6 ranges that carry an IPv4 address inside: judged by that IPv4 address. */
const EMBEDDED_IPV4: ReadonlyArray<{ range: AddressRange; extract: (address: bigint) => bigint }> = [
  { range: range('::ffff:0:0/96'), extract: (a) => a & 0xffffffffn }, // IPv4-mapped
  { range: range('64:ff9b::/96'), extract: (a) => a & 0xffffffffn }, // NAT64
  { range: range('2002::/16'), extract: (a) => (a >> 80n) & 0xffffffffn }, // 6to4
];

/**
 * Why an address is not a public one (`loopback`, `private`, …), or null when it is globally reachable.
 * Throws when `address` is not an IP address.
 */
export function nonPublicKind(address: string | bigint): string | null {
  const value = typeof address === 'bigint' ? address : parseIpAddress(address);
  if (value === undefined) throw new Error(`not an IP address: ${String(address)}`);
  const embedded = EMBEDDED_IPV4.find((e) => inRange(value, e.range));
  const judged = embedded ? IPV4_MAPPED_PREFIX | embedded.extract(value) : value;
  return NON_PUBLIC_RANGES.find((r) => inRange(judged, r.range))?.kind ?? null;
}
