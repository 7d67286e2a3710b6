import { BlockList, isIP } from 'node:net';

/**
 * Cloudflare's published edge ranges (https://www.cloudflare.com/ips-v4 and /ips-v6), the preset of
 * EDGE_PROFILE=cloudflare. As of CLOUDFLARE_RANGES_AS_OF; the list changes rarely (last in 2023).
 * When Cloudflare announces a change, update both lists and the date together:
 * gateway/test/cloudflare.test.ts fails when the date is more than a year old, as a reminder.
 */
export const CLOUDFLARE_RANGES_AS_OF = '2026-12-06';
export const CLOUDFLARE_IPV4 = [
  '173.245.48.0/20',
  '103.21.244.0/22',
  '103.22.200.0/22',
  '103.31.4.0/22',
  '141.101.64.0/18',
  '108.162.192.0/18',
  '190.93.240.0/20',
  '188.114.96.0/20',
  '197.234.240.0/22',
  '198.41.128.0/17',
  '162.158.0.0/15',
  '104.16.0.0/13',
  '104.24.0.0/14',
  '172.64.0.0/13',
  '131.0.72.0/22',
] as const;
export const CLOUDFLARE_IPV6 = ['2400:cb00::/32', '2606:4700::/32', '2803:f800::/32', '2405:b500::/32', '2405:8100::/32', '2a06:98c0::/29', '2c0f:f248::/32'] as const;

const ranges = new BlockList();
for (const cidr of CLOUDFLARE_IPV4) ranges.addSubnet(cidr.split('/')[0]!, Number(cidr.split('/')[1]), 'ipv4');
for (const cidr of CLOUDFLARE_IPV6) ranges.addSubnet(cidr.split('/')[0]!, Number(cidr.split('/')[1]), 'ipv6');

/** Whether `address` (IPv4, IPv6 or IPv4-mapped IPv6) is one of Cloudflare's edge servers. */
export function isCloudflareAddress(address: string): boolean {
  let addr = address.trim();
  if (addr.toLowerCase().startsWith('::ffff:') && isIP(addr.slice(7)) === 4) addr = addr.slice(7);
  const family = isIP(addr);
  if (family === 0) return false;
  return ranges.check(addr, family === 4 ? 'ipv4' : 'ipv6');
}
