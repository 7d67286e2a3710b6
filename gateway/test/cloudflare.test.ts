import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLOUDFLARE_IPV4, CLOUDFLARE_IPV6, CLOUDFLARE_RANGES_AS_OF, isCloudflareAddress } from '../src/identity/cloudflare.js';
import { clientAddress } from '../src/routing/routes.js';
import { createHasher } from '../src/identity/hash.js';
import { normalizeClientAddress } from '../src/identity/client-address.js';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

describe("the Cloudflare preset (Cloudflare's published ranges)", () => {
  it('is dated, and not older than a year (check https://www.cloudflare.com/ips and update both)', () => {
    const asOf = Date.parse(`${CLOUDFLARE_RANGES_AS_OF}T00:00:00Z`);
    expect(Number.isFinite(asOf)).toBe(true);
    expect(Date.now() - asOf).toBeLessThan(366 * 24 * 3600_000);
    expect(CLOUDFLARE_IPV4).toHaveLength(15);
    expect(CLOUDFLARE_IPV6).toHaveLength(7);
  });

  it.each([
    ['173.245.48.1', true],
    ['104.16.0.1', true],
    ['104.23.255.254', true],
    ['172.71.255.255', true],
    ['::ffff:162.158.1.2', true],
    ['2606:4700::6810:84e5', true],
    ['2a06:98c7:ffff::1', true],
    ['104.32.0.1', false],
    ['203.0.113.7', false],
    ['10.0.0.1', false],
    ['2001:db8::1', false],
    ['not-an-address', false],
  ])('%s is a Cloudflare address: %s', (address, expected) => {
    expect(isCloudflareAddress(address)).toBe(expected);
  });

  it('believes CF-Connecting-IP from a Cloudflare peer only, and only when it is an address', () => {
    expect(clientAddress('cloudflare', '162.158.1.2', '198.51.100.7')).toBe('198.51.100.7');
    expect(clientAddress('cloudflare', '162.158.1.2', ' 2001:db8::5 ')).toBe('2001:db8::5');
    expect(clientAddress('cloudflare', '203.0.113.9', '198.51.100.7')).toBe('203.0.113.9');
    expect(clientAddress('cloudflare', '162.158.1.2', 'garbage')).toBe('162.158.1.2');
    expect(clientAddress('cloudflare', '162.158.1.2', ['198.51.100.7', '198.51.100.8'])).toBe('162.158.1.2');
    expect(clientAddress('none', '162.158.1.2', '198.51.100.7')).toBe('162.158.1.2');
  });
});

describe('EDGE_PROFILE=cloudflare behind an ingress (TRUSTED_PROXIES)', () => {
  let fakes: Fakes;
  let gw: RunningGateway;
  const ingress = '127.0.0.61';
  beforeAll(async () => {
    fakes = await startFakes();
    gw = await startGateway(fakes, { EDGE_PROFILE: 'cloudflare', TRUSTED_PROXIES: ingress });
  });
  afterAll(async () => {
    await gw?.close();
    await fakes?.close();
    await closeClients();
  });
  const hashSeen = async (from: string, headers: Record<string, string>) => {
    const before = fakes.billing.requests.length;
    expect((await send(`${gw.url}/v1/pricing`, { from, headers })).status).toBe(200);
    const seen = fakes.billing.requests[before]!;
    expect(seen.headers['cf-connecting-ip']).toBeUndefined(); // the raw address stays at the edge
    return seen.headers['x-imlab-ip-hash'];
  };
  const hashOf = (address: string) => createHasher(gw.config.IP_HASH_SECRET).ip(normalizeClientAddress(address));

  it('keys the client by CF-Connecting-IP, hashed like any address, when the hop before the ingress is Cloudflare', async () => {
    expect(await hashSeen(ingress, { 'x-forwarded-for': '162.158.10.20', 'cf-connecting-ip': '198.51.100.44' })).toBe(hashOf('198.51.100.44'));
    // IPv6 clients share their /64 as everywhere else
    expect(await hashSeen(ingress, { 'x-forwarded-for': '2606:4700::1', 'cf-connecting-ip': '2001:db8:7:8::99' })).toBe(hashOf('2001:db8:7:8::1'));
  });

  it('ignores CF-Connecting-IP from anyone else: a request sent around Cloudflare is keyed by its own address', async () => {
    expect(await hashSeen(ingress, { 'x-forwarded-for': '203.0.113.50', 'cf-connecting-ip': '198.51.100.44' })).toBe(hashOf('203.0.113.50'));
    // not through the trusted ingress: its X-Forwarded-For is not believed either
    expect(await hashSeen('127.0.0.62', { 'x-forwarded-for': '162.158.10.20', 'cf-connecting-ip': '198.51.100.44' })).toBe(hashOf('127.0.0.62'));
  });
});
