import { lookup as dnsLookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { AddressRange, inRange, nonPublicKind, parseCidr, parseIpAddress } from './ip-address';

/**
 * A webhook must not become a way into the operator's own network (SSRF): its URL may only reach public addresses,
 * unless an operator allows more. Checked when a client registers a URL and again at every delivery, against the
 * very addresses the delivery then connects to, so a DNS answer that changes in between (rebinding) gains nothing.
 */

/** Thrown when a webhook URL must not be used; the message is a reason fit to show the client. */
export class UndeliverableUrlError extends Error {
  override readonly name = 'UndeliverableUrlError';
}

export interface DeliverableUrlOptions {
  /** deliver to any address, private ones included (WEBHOOK_ALLOW_PRIVATE=true) */
  allowPrivate?: boolean;
  /** host names (`hooks.internal`, `*.corp.example`), addresses or CIDRs (`10.1.0.0/16`) that may be reached anyway */
  allowlist?: string[];
  /** DNS resolution; the system resolver (what an HTTP request uses) by default */
  resolve?: (hostname: string) => Promise<ResolvedAddress[]>;
}

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

export interface DeliverableTarget {
  url: URL;
  /** every address the host resolved to; all were checked, so a connection may use any of them */
  addresses: ResolvedAddress[];
}

/** Refuses (throws {@link UndeliverableUrlError}) a URL a webhook must not be delivered to. */
export async function assertDeliverableUrl(url: string, options: DeliverableUrlOptions): Promise<void> {
  await resolveDeliverableUrl(url, options);
}

/** Like {@link assertDeliverableUrl}, and gives the checked addresses to connect to. */
export async function resolveDeliverableUrl(url: string, options: DeliverableUrlOptions): Promise<DeliverableTarget> {
  const parsed = parseWebhookUrl(url);
  const host = parsed.hostname.replace(/^\[(.*)\]$/, '$1');
  const allowlist = parseAllowlist(options.allowlist ?? []);
  const literalFamily = isIP(host);
  const addresses: ResolvedAddress[] = literalFamily
    ? [{ address: host, family: literalFamily as 4 | 6 }]
    : await resolveHost(host, options.resolve ?? systemResolve);

  const nameAllowlisted = !literalFamily && allowlist.hostMatches(host);
  for (const { address } of addresses) {
    const kind = nonPublicKind(address);
    if (kind === null || options.allowPrivate || allowlist.addressMatches(address)) continue;
    const resolved = literalFamily ? '' : ` resolves to ${address}, which`;
    // an allowlisted name may lead into private networks (that is what it is for), but what it resolves to is still
    // checked: a name whose DNS now answers loopback or link-local (cloud metadata) gets no further
    if (nameAllowlisted) {
      if (!NEVER_BY_NAME.some((never) => kind.startsWith(never))) continue;
      throw new UndeliverableUrlError(
        `webhook URL host ${host}${resolved} is a ${kind} address; an allowlisted name never reaches ${NEVER_BY_NAME.join(', ')} addresses unless the address itself is allowlisted`,
      );
    }
    throw new UndeliverableUrlError(
      `webhook URL host ${host}${resolved} is a ${kind} address; webhooks may only reach public addresses unless an operator allowlists it`,
    );
  }

  const port = Number(parsed.port || (parsed.protocol === 'https:' ? 443 : 80));
  const portAllowed =
    STANDARD_PORTS.includes(port) || options.allowPrivate || nameAllowlisted || addresses.every((a) => allowlist.addressMatches(a.address));
  if (!portAllowed) {
    throw new UndeliverableUrlError(`webhook URL port ${port} is not allowed: use 80 or 443, or have an operator allowlist the host`);
  }
  return { url: parsed, addresses };
}

/** Any other port is an internal service's more often than a webhook's: it needs the operator's allowlist. */
const STANDARD_PORTS = [80, 443];
/** kinds of address an allowlisted host name may still not resolve to (only an allowlisted address or CIDR may) */
const NEVER_BY_NAME = ['loopback', 'link-local', 'unspecified', 'multicast'];

function parseWebhookUrl(url: string): URL {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UndeliverableUrlError('webhook URL is not a valid absolute URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') {
    throw new UndeliverableUrlError(`webhook URL must use http or https, not ${parsed.protocol.replace(/:$/, '')}`);
  }
  // credentials in a URL end up in logs and listings; receivers verify the signature instead
  if (parsed.username || parsed.password) throw new UndeliverableUrlError('webhook URL must not contain credentials');
  if (!parsed.hostname) throw new UndeliverableUrlError('webhook URL has no host');
  return parsed;
}

async function systemResolve(hostname: string): Promise<ResolvedAddress[]> {
  const answers = await dnsLookup(hostname, { all: true, verbatim: true });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
}

async function resolveHost(host: string, resolve: (hostname: string) => Promise<ResolvedAddress[]>): Promise<ResolvedAddress[]> {
  let addresses: ResolvedAddress[];
  try {
    addresses = await resolve(host);
  } catch (error) {
    const code = (error as { code?: string }).code ?? (error as Error).message;
    throw new UndeliverableUrlError(`webhook URL host ${host} does not resolve (${code})`);
  }
  if (addresses.length === 0) throw new UndeliverableUrlError(`webhook URL host ${host} does not resolve (no addresses)`);
  return addresses;
}

export interface Allowlist {
  hostMatches(hostname: string): boolean;
  addressMatches(address: string): boolean;
}

/**
 * Parses allowlist entries: a CIDR or an address, an exact host name, or `*.domain` for its subdomains.
 * Throws on an entry that is none of these, so a typo is caught at start rather than ignored.
 */
export function parseAllowlist(entries: string[]): Allowlist {
  const ranges: AddressRange[] = [];
  const hosts = new Set<string>();
  const domains: string[] = [];
  for (const raw of entries.map((e) => e.trim()).filter(Boolean)) {
    const entry = raw.toLowerCase();
    const cidr = parseCidr(entry);
    if (cidr) ranges.push(cidr);
    else if (/^\*\.[a-z0-9.-]+$/.test(entry)) domains.push(entry.slice(1));
    else if (/^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/.test(entry) && !entry.includes('/')) hosts.add(entry);
    else throw new Error(`allowlist entry "${raw}" is not a host name, *.domain, address or CIDR`);
  }
  const normalise = (h: string) => h.toLowerCase().replace(/\.$/, '');
  return {
    hostMatches: (hostname) => {
      const h = normalise(hostname);
      return hosts.has(h) || domains.some((d) => h.endsWith(d));
    },
    addressMatches: (address) => {
      const value = parseIpAddress(address);
      return value !== undefined && ranges.some((r) => inRange(value, r));
    },
  };
}

/** `WEBHOOK_ALLOWLIST` (comma- or space-separated) → entries. */
export const splitAllowlist = (raw: string | undefined): string[] =>
  (raw ?? '')
    .split(/[\s,]+/)
    .map((e) => e.trim())
    .filter(Boolean);
