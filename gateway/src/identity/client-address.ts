import { isIP } from 'node:net';

/**
 * The address a rate-limit bucket is keyed by. IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is folded to
 * IPv4 so dual-stack sockets do not split one client in two; IPv6 is cut to its /64, because one
 * subscriber usually owns a whole /64 and could otherwise rotate through 2^64 addresses.
 */
export function normalizeClientAddress(raw: string): string {
  let addr = raw.trim();
  const zone = addr.indexOf('%');
  if (zone !== -1) addr = addr.slice(0, zone);
  const family = isIP(addr);
  if (family === 4) return addr;
  if (family !== 6) return 'unknown';
  const groups = expandIPv6(addr);
  const isMapped = groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff;
  if (isMapped) return `${groups[6]! >> 8}.${groups[6]! & 0xff}.${groups[7]! >> 8}.${groups[7]! & 0xff}`;
  return `${groups
    .slice(0, 4)
    .map((g) => g.toString(16))
    .join(':')}::/64`;
}

/** `2001:db8::1` → eight 16-bit numbers; an embedded dotted IPv4 tail is converted. */
function expandIPv6(addr: string): number[] {
  let text = addr.toLowerCase();
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const [a, b, c, d] = v4[1]!.split('.').map(Number) as [number, number, number, number];
    text = `${text.slice(0, -v4[1]!.length)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head, tail] = text.split('::') as [string, string | undefined];
  const h = head ? head.split(':') : [];
  const t = tail ? tail.split(':') : [];
  const missing = tail === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...Array<string>(missing).fill('0'), ...t].map((g) => parseInt(g || '0', 16));
}
