// SSRF guard for webhook targets: a webhook URL is chosen by an operator, and the server calls
// it from inside the network. Targets that resolve to loopback, link-local, private or other
// non-public ranges are refused (unless WEBHOOK_ALLOW_PRIVATE_TARGETS=true), when the webhook is
// saved and again on every connection: the delivery connects to the address that was checked,
// so a name that resolves elsewhere the second time (DNS rebinding) gains nothing.
import { lookup as dnsLookup } from 'node:dns/promises';
import { BlockList, isIP } from 'node:net';
import { badInput } from '../domain/errors.ts';

const blocked = new BlockList();
// IPv4: "this" network, private (RFC 1918), shared address space (RFC 6598), loopback, link-local
// (cloud metadata lives at 169.254.169.254), IETF protocol assignments, benchmarking, multicast,
// reserved and broadcast.
for (const [net, prefix] of [
  ['0.0.0.0', 8],
  ['10.0.0.0', 8],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['224.0.0.0', 4],
  ['240.0.0.0', 4],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv4');
}
// IPv6: unspecified, loopback, unique local (fc00::/7), link-local, site-local, multicast.
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['fc00::', 7],
  ['fe80::', 10],
  ['fec0::', 10],
  ['ff00::', 8],
] as const) {
  blocked.addSubnet(net, prefix, 'ipv6');
}

/** The IPv4 address an IPv6 address embeds (IPv4-mapped, IPv4-compatible, NAT64, 6to4), if any. */
function embeddedIpv4(address: string): string | undefined {
  const lower = address.toLowerCase();
  const dotted = /^(?:::ffff:|::|64:ff9b::)(\d+\.\d+\.\d+\.\d+)$/.exec(lower);
  if (dotted) return dotted[1];
  const hex = /^(?:::ffff:|64:ff9b::|::)([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(lower);
  if (hex) return hexToIpv4(hex[1]!, hex[2]!);
  const sixToFour = /^2002:([0-9a-f]{1,4}):([0-9a-f]{1,4}):/.exec(lower);
  if (sixToFour) return hexToIpv4(sixToFour[1]!, sixToFour[2]!);
  return undefined;
}

function hexToIpv4(high: string, low: string): string {
  const h = parseInt(high, 16);
  const l = parseInt(low, 16);
  return `${h >> 8}.${h & 255}.${l >> 8}.${l & 255}`;
}

/** Whether an IP address is one a webhook may not reach (without WEBHOOK_ALLOW_PRIVATE_TARGETS). */
export function isPrivateAddress(address: string): boolean {
  const family = isIP(address);
  if (family === 4) return blocked.check(address, 'ipv4');
  if (family !== 6) return true;
  const v4 = embeddedIpv4(address);
  if (v4 !== undefined) return blocked.check(v4, 'ipv4');
  return blocked.check(address, 'ipv6');
}

/** A URL a webhook may have: http(s), no credentials, a host. Throws BAD_USER_INPUT otherwise. */
export function parseWebhookUrl(raw: string): URL {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    throw badInput(`"${raw}" is not a URL.`, { field: 'url' });
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw badInput(`A webhook URL must be http:// or https://, got ${url.protocol}//.`, { field: 'url' });
  }
  if (url.username || url.password) throw badInput('A webhook URL must not contain credentials.', { field: 'url' });
  if (raw.length > 2000) throw badInput('A webhook URL must be at most 2000 characters.', { field: 'url' });
  return url;
}

export class TargetRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TargetRefused';
  }
}

/** The host's addresses; every one must be public (a name with one private address is refused). */
export async function resolveTarget(hostname: string, allowPrivate: boolean): Promise<{ address: string; family: number }[]> {
  const host = hostname.replace(/^\[|\]$/g, '');
  const addresses = isIP(host) ? [{ address: host, family: isIP(host) }] : await dnsLookup(host, { all: true, verbatim: true });
  if (addresses.length === 0) throw new TargetRefused(`${host} has no address`);
  if (!allowPrivate) {
    const bad = addresses.find((a) => isPrivateAddress(a.address));
    if (bad) {
      throw new TargetRefused(
        `${host} resolves to ${bad.address}, a loopback, link-local or private address; set WEBHOOK_ALLOW_PRIVATE_TARGETS=true to allow such targets`,
      );
    }
  }
  return addresses;
}

/** Checks a webhook URL when it is saved: BAD_USER_INPUT for a refused or unresolvable target. */
export async function checkWebhookUrl(raw: string, allowPrivate: boolean): Promise<string> {
  const url = parseWebhookUrl(raw);
  try {
    await resolveTarget(url.hostname, allowPrivate);
  } catch (error) {
    const message = error instanceof TargetRefused ? error.message : `${url.hostname} cannot be resolved (${(error as NodeJS.ErrnoException).code ?? 'error'})`;
    throw badInput(`Webhook target refused: ${message}.`, { field: 'url' });
  }
  return url.toString();
}
