import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { normalizeClientAddress } from '../src/identity/client-address.js';
import { deviceLabel } from '../src/identity/device.js';
import { createHasher } from '../src/identity/hash.js';
import { normalizeByRules, normalizePath } from '../src/routing/normalize-path.js';
import { csrfVerdict } from '../src/security/csrf.js';

describe('client address normalisation', () => {
  it.each([
    ['203.0.113.9', '203.0.113.9'],
    ['::ffff:203.0.113.9', '203.0.113.9'],
    ['::ffff:cb00:7109', '203.0.113.9'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['2001:DB8:1:2:ffff::1', '2001:db8:1:2::/64'],
    ['fe80::1%eth0', 'fe80:0:0:0::/64'],
    ['not-an-ip', 'unknown'],
  ])('%s → %s', (raw, expected) => {
    expect(normalizeClientAddress(raw)).toBe(expected);
  });

  it('gives every address of one /64 the same hash, and other /64s another', () => {
    const h = createHasher('s'.repeat(32));
    const a = h.ip(normalizeClientAddress('2001:db8:1:2::1'));
    expect(h.ip(normalizeClientAddress('2001:db8:1:2:dead:beef:0:1'))).toBe(a);
    expect(h.ip(normalizeClientAddress('2001:db8:1:3::1'))).not.toBe(a);
  });

  it('hashes with the secret: another secret, another hash; the previous one only during rotation', () => {
    const a = createHasher('a'.repeat(32), 'b'.repeat(32));
    const b = createHasher('b'.repeat(32));
    expect(a.ip('1.2.3.4')).not.toBe(b.ip('1.2.3.4'));
    expect(a.previousIp('1.2.3.4')).toBe(b.ip('1.2.3.4'));
    expect(b.previousIp('1.2.3.4')).toBeUndefined();
    expect(a.ip('1.2.3.4')).toMatch(/^[0-9a-f]{64}$/);
  });
});

describe('device label', () => {
  it.each([
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0', 'Firefox on macOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36', 'Chrome on Windows'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36 Edg/130.0.0.0', 'Edge on Windows'],
    ['Mozilla/5.0 (iPhone; CPU iPhone OS 18_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.0 Mobile/15E148 Safari/604.1', 'Safari on iOS'],
    ['Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['curl/8.5.0', 'curl'],
    ['', 'Unknown device'],
  ])('%s → %s', (ua, label) => {
    expect(deviceLabel(ua)).toBe(label);
  });
});

describe('path normalisation', () => {
  it.each([
    ['/v1/auth/login', '/v1/auth/login'],
    ['/v1//auth///login/', '/v1/auth/login'],
    ['/v1/./auth/x/../login', '/v1/auth/login'],
    ['/v1/auth/%6C%6fgin', '/v1/auth/login'],
    ['/v1/auth/%2e%2e/me', '/v1/me'],
    ['/v1/images/caf%c3%a9', '/v1/images/caf%C3%A9'],
  ])('%s → %s', (raw, path) => {
    expect(normalizePath(raw)).toEqual({ ok: true, path });
  });

  it.each(['/v1/a%2fb', '/v1/a%5cb', '/v1/a\\b', '/v1/a;b', '/v1/a%3bb', '/v1/%252e%252e', '/v1/a%00', '/../x', '/v1/%zz', 'v1/x', '*'])('refuses %s', (raw) => {
    expect(normalizePath(raw).ok).toBe(false);
  });

  it('the fast path for canonical paths agrees with the character-by-character rules on any input', () => {
    const piece = fc.constantFrom('/', '//', '.', '..', '/./', '/../', 'v1', 'auth', 'login', '%2e', '%2E', '%2f', '%6c', '%c3%a9', '%', ';', '\\', '~', "!$&'()*+,=:@", '\u0000', 'é', '?', '#', ' ', '-_');
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 12 }), fc.boolean(), (parts, rooted) => {
        const raw = (rooted ? '/' : '') + parts.join('');
        expect(normalizePath(raw)).toEqual(normalizeByRules(raw));
      }),
      { numRuns: 5000 },
    );
  });
});

describe('CSRF verdict', () => {
  const allowed = new Set(['https://app.imlab.test']);
  const v = (x: Partial<Parameters<typeof csrfVerdict>[0]>) => csrfVerdict({ method: 'POST', origin: undefined, secFetchSite: undefined, hasSessionCookie: true, allowedOrigins: allowed, ...x }).ok;
  it('lets safe methods through and judges writes by Origin, then Fetch-Metadata', () => {
    expect(v({ method: 'GET', origin: 'https://evil.test' })).toBe(true);
    expect(v({ origin: 'https://app.imlab.test' })).toBe(true);
    expect(v({ origin: 'https://evil.test' })).toBe(false);
    expect(v({ secFetchSite: 'same-origin' })).toBe(true);
    expect(v({ secFetchSite: 'same-site' })).toBe(false);
    expect(v({})).toBe(false);
    expect(v({ hasSessionCookie: false })).toBe(true);
  });
});
