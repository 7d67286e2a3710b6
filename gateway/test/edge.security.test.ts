import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

let fakes: Fakes;
let gw: RunningGateway;
const APP = 'https://app.imlab.test';

beforeAll(async () => {
  fakes = await startFakes();
  fakes.auth.sessions.set('sid-alice', 'usr_alice');
  gw = await startGateway(fakes, { SESSION_CACHE_TTL: '30s' });
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

describe('sessions at the edge', () => {
  it('turns the imlab_sid cookie into an internal JWT for the target service', async () => {
    const before = fakes.ledger.requests.length;
    const res = await send(`${gw.url}/v1/credits/balance`, { headers: { cookie: 'locale=zh; imlab_sid=sid-alice; tracker=1' } });
    expect(res.status).toBe(200);
    const seen = fakes.ledger.requests[before]!;
    expect(seen.headers.authorization).toBe('Bearer jwt.credits-ledger.usr_alice');
    // the session token itself goes to auth only; other services see just the locale
    expect(seen.headers.cookie).toBe('locale=zh');
    expect(fakes.auth.resolves.at(-1)).toEqual({ token: 'sid-alice', audience: 'credits-ledger' });
  });

  it('forwards the session cookie to auth itself (logout needs it)', async () => {
    const before = fakes.auth.requests.length;
    await send(`${gw.url}/v1/me`, { headers: { cookie: 'imlab_sid=sid-alice; other=x' } });
    const seen = fakes.auth.requests.slice(before).find((r) => r.url === '/v1/me')!;
    expect(seen.headers.authorization).toBe('Bearer jwt.auth.usr_alice');
    expect(seen.headers.cookie).toBe('imlab_sid=sid-alice');
  });

  it('forwards an unknown or expired cookie anonymously', async () => {
    const before = fakes.generation.requests.length;
    const res = await send(`${gw.url}/v1/generations`, { headers: { cookie: 'imlab_sid=sid-nobody' } });
    expect(res.status).toBe(200);
    expect(fakes.generation.requests[before]!.headers.authorization).toBeUndefined();
  });

  it('keeps anonymous routes anonymous: no resolution for pricing, gallery or login', async () => {
    const resolves = fakes.auth.resolves.length;
    const before = fakes.billing.requests.length;
    await send(`${gw.url}/v1/pricing`, { headers: { cookie: 'imlab_sid=sid-alice' } });
    await send(`${gw.url}/v1/gallery`, { headers: { cookie: 'imlab_sid=sid-alice' } });
    expect(fakes.auth.resolves.length).toBe(resolves);
    expect(fakes.billing.requests[before]!.headers.authorization).toBeUndefined();
  });

  it('stops reusing a session as soon as a logout through this gateway succeeds', async () => {
    fakes.auth.sessions.set('sid-bob', 'usr_bob');
    const headers = { cookie: 'imlab_sid=sid-bob', origin: APP };
    expect((await send(`${gw.url}/v1/billing/orders`, { headers })).status).toBe(200);
    const n = fakes.auth.resolves.length;
    await send(`${gw.url}/v1/billing/orders`, { headers });
    expect(fakes.auth.resolves.length).toBe(n); // reused from the in-process cache
    fakes.auth.on('POST', '/v1/auth/logout', (_req, res) => {
      fakes.auth.sessions.delete('sid-bob');
      res.writeHead(204).end();
    });
    expect((await send(`${gw.url}/v1/auth/logout`, { method: 'POST', headers })).status).toBe(204);
    const before = fakes.billing.requests.length;
    await send(`${gw.url}/v1/billing/orders`, { headers });
    expect(fakes.billing.requests[before]!.headers.authorization).toBeUndefined();
  });

  it("stops reusing a person's sessions as soon as their suspension through this gateway succeeds (no sessions-ended message needed)", async () => {
    const member = '01a24c17-951f-73f1-bdc0-a4ee8461e858';
    fakes.auth.sessions.set('sid-member', member);
    fakes.auth.sessions.set('sid-admin', 'usr_admin');
    const memberHeaders = { cookie: 'imlab_sid=sid-member', origin: APP };
    expect((await send(`${gw.url}/v1/billing/orders`, { headers: memberHeaders })).status).toBe(200);
    const n = fakes.auth.resolves.length;
    await send(`${gw.url}/v1/billing/orders`, { headers: memberHeaders });
    expect(fakes.auth.resolves.length).toBe(n); // reused from the in-process cache
    fakes.auth.on('POST', `/v1/admin/accounts/${member}/suspend`, (_req, res) => {
      fakes.auth.sessions.delete('sid-member');
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ userId: member, suspended: true }));
    });
    const suspended = await send(`${gw.url}/v1/admin/accounts/${member}/suspend`, { method: 'POST', headers: { cookie: 'imlab_sid=sid-admin', origin: APP, 'content-type': 'application/json' }, body: '{"reason":"spam ring, ticket 42"}' });
    expect(suspended.status).toBe(200);
    const before = fakes.billing.requests.length;
    await send(`${gw.url}/v1/billing/orders`, { headers: memberHeaders });
    expect(fakes.billing.requests[before]!.headers.authorization).toBeUndefined();
  });

  it('answers 503 when a cookie cannot be resolved because auth is down, and serves anonymous requests', async () => {
    const noAuth = await startGateway({ ...fakes, auth: undefined });
    try {
      const res = await send(`${noAuth.url}/v1/credits/balance`, { headers: { cookie: 'imlab_sid=sid-alice' } });
      expect(res.status).toBe(503);
      expect(res.json()).toMatchObject({ code: 'SERVICE_UNAVAILABLE' });
      expect((await send(`${noAuth.url}/v1/credits/balance`)).status).toBe(200);
    } finally {
      await noAuth.close();
    }
  });
});

describe('CSRF on state-changing requests', () => {
  const post = (headers: Record<string, string>, path = '/v1/billing/checkout') =>
    send(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: '{"pack":"small"}' });

  it('accepts a cookie write from an allowed origin', async () => {
    expect((await post({ cookie: 'imlab_sid=sid-alice', origin: APP, 'sec-fetch-site': 'same-site' })).status).toBe(200);
  });

  it.each([
    ['a foreign origin', { cookie: 'imlab_sid=sid-alice', origin: 'https://evil.test', 'sec-fetch-site': 'cross-site' }],
    ['a null origin', { cookie: 'imlab_sid=sid-alice', origin: 'null' }],
    ['neither Origin nor Fetch-Metadata', { cookie: 'imlab_sid=sid-alice' }],
    ['a cross-site fetch without Origin', { cookie: 'imlab_sid=sid-alice', 'sec-fetch-site': 'cross-site' }],
    ['a sibling-site fetch without Origin', { cookie: 'imlab_sid=sid-alice', 'sec-fetch-site': 'same-site' }],
    ['a lookalike origin', { cookie: 'imlab_sid=sid-alice', origin: 'https://app.imlab.test.evil.test' }],
  ])('refuses a cookie write with %s (403), service untouched', async (_label, headers) => {
    const before = fakes.billing.requests.length;
    const res = await post(headers);
    expect(res.status).toBe(403);
    expect(res.json()).toMatchObject({ code: 'GATEWAY_CSRF_REJECTED' });
    expect(fakes.billing.requests.length).toBe(before);
  });

  it('refuses a cross-site login form post (login CSRF) even without a cookie', async () => {
    const res = await post({ origin: 'https://evil.test', 'sec-fetch-site': 'cross-site' }, '/v1/auth/login');
    expect(res.status).toBe(403);
  });

  it('lets non-browser clients without a cookie through', async () => {
    expect((await post({}, '/v1/auth/signup')).status).toBe(200);
  });

  it('does not apply to webhooks, which carry no cookie and come from the provider', async () => {
    const res = await send(`${gw.url}/v1/billing/webhook`, { method: 'POST', headers: { 'content-type': 'application/json', origin: 'https://stripe.example', 'sec-fetch-site': 'cross-site' }, body: '{}' });
    expect(res.status).toBe(200);
  });
});

describe('CORS and security headers', () => {
  it('answers a preflight from an allowed origin with credentials allowed', async () => {
    const res = await send(`${gw.url}/v1/billing/checkout`, {
      method: 'OPTIONS',
      headers: { origin: APP, 'access-control-request-method': 'POST', 'access-control-request-headers': 'content-type' },
    });
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(APP);
    expect(res.headers['access-control-allow-credentials']).toBe('true');
  });

  it('answers a preflight from another origin without any grant, and never forwards it', async () => {
    const before = fakes.billing.requests.length;
    const res = await send(`${gw.url}/v1/billing/checkout`, {
      method: 'OPTIONS',
      headers: { origin: 'https://evil.test', 'access-control-request-method': 'POST' },
    });
    expect(res.headers['access-control-allow-origin']).toBeUndefined();
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
    expect(fakes.billing.requests.length).toBe(before);
  });

  it('gives no CORS grant to an origin that is not an exact match', async () => {
    for (const origin of ['https://evil.test', 'https://app.imlab.test.evil.test', 'http://app.imlab.test']) {
      const res = await send(`${gw.url}/v1/pricing`, { headers: { origin } });
      expect(res.headers['access-control-allow-origin']).toBeUndefined();
    }
    const ok = await send(`${gw.url}/v1/pricing`, { headers: { origin: APP } });
    expect(ok.headers['access-control-allow-origin']).toBe(APP);
    expect(String(ok.headers['access-control-expose-headers'])).toContain('ratelimit');
  });

  it('keeps Origin in Vary when the service sends its own Vary', async () => {
    fakes.billing.on('GET', '/v1/pricing', (_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', vary: 'Accept-Language' }).end('{}');
    });
    const res = await send(`${gw.url}/v1/pricing`, { headers: { origin: APP } });
    expect(res.headers.vary).toBe('Accept-Language, Origin');
  });

  it('answers a path that is not UTF-8 percent-encoding with problem+json, never forwarding it', async () => {
    const before = fakes.generation.requests.length;
    const res = await send(`${gw.url}/v1/images/%C0`);
    expect(res.status).toBe(400);
    expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
    expect(res.json()).toMatchObject({ status: 400, code: 'VALIDATION_FAILED', requestId: expect.any(String) });
    expect(res.headers['x-content-type-options']).toBe('nosniff'); // the security headers all answers carry
    expect(fakes.generation.requests.length).toBe(before);
  });

  it('sets security headers on proxied answers', async () => {
    const res = await send(`${gw.url}/v1/pricing`);
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['strict-transport-security']).toBeDefined();
    expect(res.headers['content-security-policy']).toContain("default-src 'none'");
    expect(res.headers['x-frame-options']).toBeDefined();
  });
});
