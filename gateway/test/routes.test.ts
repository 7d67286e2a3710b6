import { describe, expect, it } from 'vitest';
import { classify, clientAddress, clientHeaderOf, EDGE_PROFILES, METRICS_PATH, SURFACES, surfaceOf } from '../src/routing/routes.js';
import { CLOUDFLARE_RANGES_AS_OF } from '../src/identity/cloudflare.js';
import { isReservedPath } from '../src/web/web-app.js';
import { loadGatewayConfig } from '../src/config.js';

describe('route classes', () => {
  it.each([
    ['POST', '/v1/auth/login'],
    ['POST', '/v1/auth/email/confirm'],
    ['POST', '/v1/auth/email/confirm/preview'],
    ['POST', '/v1/auth/email/undo/preview'],
    ['POST', '/v1/auth/email/undo'],
    ['POST', '/v1/auth/account/restore'],
  ])('%s %s is a credential route: the strict per-address budget, no session resolved', (method, path) => {
    expect(classify(method, path)).toMatchObject({ service: 'auth', routeClass: 'auth', session: false });
  });

  it.each([
    ['PUT', '/v1/me/password'],
    ['POST', '/v1/me/email'],
    ['POST', '/v1/me/google/link'],
    ['POST', '/v1/me/google/unlink'],
  ])('%s %s checks a password or mails an address: the strict budget too, with the session resolved', (method, path) => {
    expect(classify(method, path)).toMatchObject({ service: 'auth', routeClass: 'auth', session: true });
  });

  it('the rest of /v1/me stays on the ordinary write and read budgets', () => {
    expect(classify('PATCH', '/v1/me')).toMatchObject({ routeClass: 'write', session: true });
    expect(classify('GET', '/v1/me/sessions')).toMatchObject({ routeClass: 'read', session: true });
    expect(classify('POST', '/v1/me/exports')).toMatchObject({ routeClass: 'write', session: true });
  });

  it('the ways to sign in are a public read: no session resolved, not spent from the strict budget', () => {
    expect(classify('GET', '/v1/auth/methods')).toMatchObject({ service: 'auth', routeClass: 'read', session: false });
  });
});

describe('the route table', () => {
  it.each([
    ['POST', '/v1/auth/logout', 'token'],
    ['POST', '/v1/auth/password/reset', 'token'],
    ['POST', '/v1/auth/email/undo', 'token'],
    ['POST', '/v1/auth/logout-all', 'account'],
    ['PUT', '/v1/me/password', 'account'],
    ['DELETE', '/v1/me', 'account'],
    ['POST', '/v1/admin/accounts/01a24c17-951f-73f1-bdc0-a4ee8461e858/suspend', 'target'],
  ])('%s %s ends sessions at the gateway (%s)', (method, path, ends) => {
    expect(classify(method, path)?.endsSessions).toBe(ends);
  });

  it("a suspension names the account whose sessions end (the path's, never the caller's)", () => {
    expect(classify('POST', '/v1/admin/accounts/01a24c17-951f-73f1-bdc0-a4ee8461e858/suspend')?.target).toBe('01a24c17-951f-73f1-bdc0-a4ee8461e858');
    expect(classify('POST', '/v1/auth/logout-all')?.target).toBeUndefined();
  });

  it('nothing else ends sessions, and reading never does', () => {
    for (const [method, path] of [['GET', '/v1/me'], ['PATCH', '/v1/me'], ['POST', '/v1/auth/login'], ['GET', '/v1/auth/logout'], ['POST', '/v1/generations'], ['POST', '/v1/admin/accounts/01a24c17-951f-73f1-bdc0-a4ee8461e858/unsuspend']] as const) {
      expect(classify(method, path)?.endsSessions, `${method} ${path}`).toBeUndefined();
    }
  });

  it('classifies webhooks, event streams, uploads, anonymous reads and unknown prefixes', () => {
    expect(classify('POST', '/v1/billing/webhook')).toMatchObject({ service: 'billing', routeClass: 'webhook', session: false });
    expect(classify('POST', '/v1/notifications/webhooks/resend')).toMatchObject({ service: 'notification', routeClass: 'webhook', session: false });
    expect(classify('GET', '/v1/generations/abc/events')).toMatchObject({ routeClass: 'sse', timeoutFactor: 0 });
    expect(classify('POST', '/v1/uploads')).toMatchObject({ routeClass: 'write', body: 'upload', timeoutFactor: 4 });
    expect(classify('POST', '/v1/generations')).toMatchObject({ routeClass: 'generation-create', session: true });
    expect(classify('GET', '/v1/gallery')).toMatchObject({ routeClass: 'read', session: false });
    expect(classify('GET', '/v1/gallery/abc')).toMatchObject({ routeClass: 'read', session: true });
    expect(classify('GET', '/v1/nowhere')).toBeUndefined();
  });
});

describe('the surfaces of the gateway (the same table)', () => {
  it.each([
    ['/v1/pricing', 'api', 'public'],
    ['/v1', 'api', 'public'],
    ['/docs', 'gateway', 'public'],
    ['/docs/static/index.html', 'gateway', 'public'],
    ['/openapi.json', 'gateway', 'public'],
    ['/admin/queues', 'gateway', 'public'],
    ['/healthz', 'gateway', 'public'],
    ['/readyz', 'gateway', 'public'],
    ['/metrics', 'metrics', 'metrics'],
    ['/internal/sessions/resolve', 'hidden', 'public'],
    ['/.well-known/security.txt', 'hidden', 'public'],
    ['/__gateway/refused-path', 'hidden', 'public'],
    ['/', 'web', 'public'],
    ['/library', 'web', 'public'],
    ['/assets/index-abc.js', 'web', 'public'],
    ['/metricsx', 'web', 'public'],
    ['/v1x', 'web', 'public'],
  ])('%s: %s, on the %s listener', (path, surface, listener) => {
    expect(surfaceOf(path)).toMatchObject({ surface, listener });
  });

  it('the web app answers exactly the paths no other surface claims', () => {
    for (const { prefix, surface } of SURFACES) {
      if (prefix === '/') continue;
      expect(isReservedPath(prefix), prefix).toBe(surface !== 'web');
      expect(isReservedPath(`${prefix}/anything`), prefix).toBe(surface !== 'web');
    }
    expect(isReservedPath('/settings/profile')).toBe(false);
  });

  it('serves metrics on the metrics listener only, at the path the table names', () => {
    expect(METRICS_PATH).toBe('/metrics');
    expect(SURFACES.filter((s) => s.listener === 'metrics').map((s) => s.prefix)).toEqual([METRICS_PATH]);
  });
});

describe('edge presets (EDGE_PROFILE)', () => {
  it('are the choices the configuration accepts', () => {
    for (const profile of Object.keys(EDGE_PROFILES)) expect(loadGatewayConfig({ NODE_ENV: 'development', EDGE_PROFILE: profile }).EDGE_PROFILE).toBe(profile);
    expect(() => loadGatewayConfig({ NODE_ENV: 'development', EDGE_PROFILE: 'fastly' })).toThrow(/EDGE_PROFILE/);
  });

  it('name the header the edge speaks for the client in, believed from the edge only', () => {
    expect(clientHeaderOf('none')).toBeUndefined();
    expect(clientHeaderOf('cloudflare')).toBe('cf-connecting-ip');
    expect(EDGE_PROFILES.cloudflare.asOf).toBe(CLOUDFLARE_RANGES_AS_OF);
    expect(clientAddress('cloudflare', '162.158.1.2', '198.51.100.7')).toBe('198.51.100.7');
    expect(clientAddress('cloudflare', '203.0.113.9', '198.51.100.7')).toBe('203.0.113.9');
    expect(clientAddress('none', '162.158.1.2', '198.51.100.7')).toBe('162.158.1.2');
  });
});
