import { parseIpAddress } from '@purple/bus';

/**
 * The key the failed-login limit counts an address under: an IPv4 address as itself, an IPv6 address by its /64
 * (one subscriber's network: an IPv6 caller holds a whole /64 and could otherwise rotate through it freely).
 */
export function loginAddressKey(address: string): string {
  const value = parseIpAddress(address);
  if (value === undefined) return address;
  if (value >> 32n === 0xffffn) {
    const v4 = value & 0xffffffffn;
    return [24n, 16n, 8n, 0n].map((shift) => String((v4 >> shift) & 0xffn)).join('.');
  }
  const prefix = value >> 64n;
  const groups = [48n, 32n, 16n, 0n].map((shift) => ((prefix >> shift) & 0xffffn).toString(16));
  return `${groups.join(':')}::/64`;
}
