import { mkdtempSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { brotliCompressSync, gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';
import { webAppCsp } from '../src/web/web-app.js';

/** A small build of the web app, laid out as Vite writes web/dist. */
function fakeBuild(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'imlab-web-dist-'));
  mkdirSync(path.join(dir, 'assets'));
  writeFileSync(
    path.join(dir, 'index.html'),
    '<!doctype html>\n<html lang="en">\n  <head>\n    <script type="module" crossorigin src="/assets/index-Ab12Cd34.js"></script>\n  </head>\n  <body><div id="root"></div></body>\n</html>\n',
  );
  const js = `export const app = ${JSON.stringify('x'.repeat(4000))};\n`;
  writeFileSync(path.join(dir, 'assets/index-Ab12Cd34.js'), js);
  writeFileSync(path.join(dir, 'assets/index-Ab12Cd34.js.gz'), gzipSync(js));
  writeFileSync(path.join(dir, 'assets/index-Ab12Cd34.js.br'), brotliCompressSync(js));
  writeFileSync(path.join(dir, 'assets/index-Zz99Yy88.css'), 'body{margin:0}');
  writeFileSync(path.join(dir, 'favicon.svg'), '<svg xmlns="http://www.w3.org/2000/svg"/>');
  writeFileSync(path.join(dir, 'robots.txt'), 'User-agent: *\n');
  writeFileSync(path.join(dir, 'routes.json'), JSON.stringify({ paths: ['', 'privacy', 'pricing', 'generations/:id', 'verify-email', 'billing/success'] }));
  return dir;
}

const HTML_NAVIGATION = { accept: 'text/html,application/xhtml+xml,*/*;q=0.8', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' };

let fakes: Fakes;
let gw: RunningGateway;
let dist: string;

beforeAll(async () => {
  fakes = await startFakes();
  dist = fakeBuild();
  gw = await startGateway(fakes, { WEB_DIST_DIR: dist });
  await gw.gateway.openapi.refresh();
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

describe('the web app at /', () => {
  it('serves index.html revalidated (no-cache, ETag → 304) under the strict CSP, with the security headers', async () => {
    const res = await send(`${gw.url}/`);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toBe('text/html; charset=utf-8');
    expect(res.text).toContain('<div id="root">');
    expect(res.headers['cache-control']).toBe('no-cache');
    expect(res.headers['content-security-policy']).toBe(
      "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
    );
    for (const h of ['x-content-type-options', 'referrer-policy', 'strict-transport-security', 'cross-origin-opener-policy', 'x-request-id']) expect(res.headers[h], h).toBeDefined();
    expect(res.headers['ratelimit-policy']).toBe('"static";q=3000;w=60');
    const etag = res.headers.etag as string;
    expect(etag).toMatch(/^"[\w-]+"$/);
    const again = await send(`${gw.url}/`, { headers: { 'if-none-match': etag } });
    expect(again.status).toBe(304);
    expect(again.text).toBe('');
    const head = await send(`${gw.url}/`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.etag).toBe(etag);
  });

  it('serves hashed assets for a year (immutable), precompressed when the browser takes it', async () => {
    const plain = await send(`${gw.url}/assets/index-Ab12Cd34.js`);
    expect(plain.status).toBe(200);
    expect(plain.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    expect(plain.headers['content-type']).toMatch(/^(application|text)\/javascript/);
    expect(plain.headers['content-encoding']).toBeUndefined();
    expect(plain.headers.vary).toMatch(/accept-encoding/i);
    expect(plain.headers['ratelimit-policy']).toBe('"static";q=3000;w=60');
    const br = await send(`${gw.url}/assets/index-Ab12Cd34.js`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(br.headers['content-encoding']).toBe('br');
    expect(br.headers['cache-control']).toBe('public, max-age=31536000, immutable');
    const gz = await send(`${gw.url}/assets/index-Ab12Cd34.js`, { headers: { 'accept-encoding': 'gzip' } });
    expect(gz.headers['content-encoding']).toBe('gzip');
    // a file without a compressed copy is sent as it is
    const css = await send(`${gw.url}/assets/index-Zz99Yy88.css`, { headers: { 'accept-encoding': 'br, gzip' } });
    expect(css.status).toBe(200);
    expect(css.headers['content-encoding']).toBeUndefined();
    expect(css.text).toBe('body{margin:0}');
    const revalidated = await send(`${gw.url}/assets/index-Zz99Yy88.css`, { headers: { 'if-none-match': css.headers.etag as string } });
    expect(revalidated.status).toBe(304);
  });

  it('answers a missing asset 404 problem+json, never index.html (a stale chunk must not run HTML)', async () => {
    for (const headers of [{}, HTML_NAVIGATION]) {
      const res = await send(`${gw.url}/assets/index-Gone0000.js`, { headers });
      expect(res.status).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    }
  });

  it('serves the files at the top of the build, revalidated', async () => {
    for (const file of ['favicon.svg', 'robots.txt']) {
      const res = await send(`${gw.url}/${file}`);
      expect(res.status, file).toBe(200);
      expect(res.headers['cache-control'], file).toBe('no-cache');
    }
  });

  it('falls back to index.html for page navigations to client-side routes', async () => {
    for (const route of ['/privacy', '/privacy/', '/generations/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee', '/verify-email?token=abc', '/billing/success?order=1', '/index.html']) {
      const res = await send(`${gw.url}${route}`, { headers: HTML_NAVIGATION });
      expect(res.status, route).toBe(200);
      expect(res.text, route).toContain('<div id="root">');
      expect(res.headers['content-security-policy'], route).toBe(webAppCsp(''));
      expect(res.headers['cache-control'], route).toBe('no-cache');
    }
    // a browser without Fetch Metadata is recognised by its Accept header
    expect((await send(`${gw.url}/pricing`, { headers: { accept: 'text/html' } })).status).toBe(200);
    // HEAD of a navigation too
    expect((await send(`${gw.url}/pricing`, { method: 'HEAD', headers: HTML_NAVIGATION })).status).toBe(200);
  });

  it('answers an address no page has with the app (its "page not found") and a 404 status', async () => {
    for (const route of ['/no/such/page', '/generations', '/generations/1/more', '/privacyx', '/Privacy']) {
      const res = await send(`${gw.url}${route}`, { headers: HTML_NAVIGATION });
      expect(res.status, route).toBe(404);
      expect(res.text, route).toContain('<div id="root">');
      expect(res.headers['content-type'], route).toContain('text/html');
      expect(res.headers['content-security-policy'], route).toBe(webAppCsp(''));
    }
  });

  it('does not fall back for what is not a page navigation', async () => {
    const cases: [string, Record<string, string>][] = [
      ['/privacy', {}],
      ['/privacy', { accept: 'application/json' }],
      ['/privacy', { accept: 'text/html', 'sec-fetch-mode': 'cors', 'sec-fetch-dest': 'empty' }],
      ['/privacy', { 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' }],
      // a file name that is not in the build: probing, not a page
      ['/wp-login.php', HTML_NAVIGATION],
      ['/.env', HTML_NAVIGATION],
    ];
    for (const [route, headers] of cases) {
      const res = await send(`${gw.url}${route}`, { headers });
      expect(res.status, `${route} ${JSON.stringify(headers)}`).toBe(404);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    }
    const post = await send(`${gw.url}/privacy`, { method: 'POST', headers: { ...HTML_NAVIGATION, 'content-type': 'application/json' }, body: '{}' });
    expect(post.status).toBe(404);
    expect(post.headers['content-type']).toMatch(/^application\/problem\+json/);
  });

  it('never falls back for /v1, /docs, /admin, /metrics, /openapi.json, /healthz, /readyz: they keep their answers', async () => {
    for (const route of ['/v1', '/v1/nope', '/v1/adminx', '/v1/auth/nope/../../x', '/docs/nope', '/admin', '/admin/nope', '/metrics/x', '/openapi.json/x', '/healthz/x', '/readyz/x', '/internal/sessions', '/.well-known/jwks.json']) {
      const res = await send(`${gw.url}${route}`, { headers: HTML_NAVIGATION });
      expect(res.status, route).toBe(404);
      expect(res.headers['content-type'], route).toMatch(/^application\/problem\+json/);
      expect(res.headers['content-security-policy'], route).toBe("default-src 'none';frame-ancestors 'none'");
      expect(res.json(), route).toMatchObject({ status: 404, code: 'NOT_FOUND' });
    }
    // the real routes still answer as before, navigation or not
    const v1 = await send(`${gw.url}/v1/pricing`, { headers: HTML_NAVIGATION });
    expect(v1.status).toBe(200);
    expect(v1.json()).toMatchObject({ service: 'billing' });
    expect((await send(`${gw.url}/healthz`, { headers: HTML_NAVIGATION })).json()).toEqual({ status: 'ok' });
    expect((await send(`${gw.url}/readyz`, { headers: HTML_NAVIGATION })).headers['content-type']).toMatch(/^application\/json/);
    expect((await send(`${gw.url}/openapi.json`, { headers: HTML_NAVIGATION })).json()).toMatchObject({ openapi: '3.1.0' });
    // metrics live on the internal listener only: the public port answers 404, never the page
    const metrics = await send(`${gw.url}/metrics`, { headers: HTML_NAVIGATION });
    expect(metrics.status).toBe(404);
    expect(metrics.headers['content-type']).toMatch(/^application\/problem\+json/);
    const docs = await send(`${gw.url}/docs`, { headers: HTML_NAVIGATION });
    expect(docs.status).toBeLessThan(400);
    expect(docs.text).not.toContain('<div id="root">');
    const board = await send(`${gw.url}/admin/queues`, { headers: HTML_NAVIGATION });
    expect(board.status).toBe(401);
    expect(board.json()).toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('reads index.html again after a rebuild (new ETag)', async () => {
    const before = (await send(`${gw.url}/`)).headers.etag;
    writeFileSync(path.join(dist, 'index.html'), '<!doctype html>\n<html><head></head><body><div id="root"></div><p>rebuilt</p></body></html>\n');
    const after = await send(`${gw.url}/`);
    expect(after.text).toContain('rebuilt');
    expect(after.headers.etag).not.toBe(before);
  });
});

describe('analytics', () => {
  it('adds nothing when no measurement id is configured (the default)', async () => {
    const res = await send(`${gw.url}/`);
    expect(res.text).not.toContain('imlab-ga-id');
    expect(res.headers['content-security-policy']).not.toContain('google');
  });

  it('with GA_MEASUREMENT_ID: a <meta> the app reads (no inline script) and only GA4 hosts added to the CSP', async () => {
    const withGa = await startGateway(fakes, { WEB_DIST_DIR: fakeBuild(), GA_MEASUREMENT_ID: 'G-TEST12345' });
    try {
      const res = await send(`${withGa.url}/`);
      expect(res.text).toContain('<meta name="imlab-ga-id" content="G-TEST12345" />');
      expect(res.text).not.toMatch(/<script>/);
      const csp = res.headers['content-security-policy'] as string;
      expect(csp).toBe(webAppCsp('G-TEST12345'));
      expect(csp).toContain("script-src 'self' https://*.googletagmanager.com;");
      expect(csp).toContain("connect-src 'self' https://*.google-analytics.com https://*.analytics.google.com https://*.googletagmanager.com;");
      expect(csp).not.toContain('unsafe');
    } finally {
      await withGa.close();
    }
  });

  it('refuses a measurement id that is not one', async () => {
    await expect(startGateway(fakes, { GA_MEASUREMENT_ID: '"><script>' })).rejects.toThrow(/GA_MEASUREMENT_ID/);
  });
});

describe('limits and misconfiguration', () => {
  it('rate-limits the files by hashed IP (RATE_LIMIT_STATIC), 429 problem+json past it', async () => {
    const limited = await startGateway(fakes, { WEB_DIST_DIR: dist, RATE_LIMIT_STATIC: '3/1m' });
    try {
      const statuses = [];
      for (let i = 0; i < 4; i++) statuses.push((await send(`${limited.url}/assets/index-Zz99Yy88.css`, { from: '127.0.0.61' })).status);
      expect(statuses).toEqual([200, 200, 200, 429]);
      const refused = await send(`${limited.url}/`, { from: '127.0.0.61' });
      expect(refused.status).toBe(429);
      expect(refused.headers['retry-after']).toBeDefined();
      expect(refused.json()).toMatchObject({ code: 'RATE_LIMITED', policy: 'static' });
      // another address is not affected
      expect((await send(`${limited.url}/`, { from: '127.0.0.62' })).status).toBe(200);
    } finally {
      await limited.close();
    }
  });

  it('answers 503 while the app is not built (development), and refuses to start without it in production', async () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'imlab-web-empty-'));
    const unbuilt = await startGateway(fakes, { WEB_DIST_DIR: empty });
    try {
      const res = await send(`${unbuilt.url}/`, { headers: HTML_NAVIGATION });
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ code: 'WEB_APP_NOT_BUILT' });
    } finally {
      await unbuilt.close();
    }
    await expect(
      startGateway(fakes, { NODE_ENV: 'production', WEB_DIST_DIR: empty, INTERNAL_API_TOKEN: 'production-internal-token-0123456789', IP_HASH_SECRET: 'production-ip-hash-secret-0123456789' }),
    ).rejects.toThrow(/no index\.html/);
  });

  it('serves nothing at / when WEB_DIST_DIR is empty (an API-only gateway)', async () => {
    const apiOnly = await startGateway(fakes, {});
    try {
      const res = await send(`${apiOnly.url}/`, { headers: HTML_NAVIGATION });
      expect(res.status).toBe(404);
      expect(res.json()).toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await apiOnly.close();
    }
  });
});
