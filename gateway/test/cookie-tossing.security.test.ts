import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeClients, send, startFakes, startGateway, type Fakes, type RunningGateway } from './helpers.js';

// Cookie tossing: a sibling subdomain (or a page over plain http) sets a second cookie of the
// session cookie's name, which the browser may send before the real one.
let fakes: Fakes;
let gw: RunningGateway;

beforeAll(async () => {
  fakes = await startFakes();
  fakes.auth.sessions.set('sid-valid', 'usr_valid');
  fakes.auth.sessions.set('sid-other', 'usr_other');
  gw = await startGateway(fakes, { SESSION_CACHE_TTL: '0' });
});
afterAll(async () => {
  await gw?.close();
  await fakes?.close();
  await closeClients();
});

async function bearerFor(cookie: string): Promise<{ status: number; bearer: string | undefined; setCookie: unknown; code: unknown }> {
  const before = fakes.ledger.requests.length;
  const res = await send(`${gw.url}/v1/credits/balance`, { headers: { cookie } });
  const seen = fakes.ledger.requests[before];
  return { status: res.status, bearer: seen?.headers.authorization, setCookie: res.headers['set-cookie'], code: res.status === 200 ? undefined : res.json().code };
}

describe('several session cookies in one request', () => {
  it.each([
    ['garbage first', 'imlab_sid=tossed-garbage; imlab_sid=sid-valid'],
    ['valid first', 'imlab_sid=sid-valid; imlab_sid=tossed-garbage'],
    ['an empty value first', 'imlab_sid=; imlab_sid=sid-valid'],
    ['an empty value last', 'imlab_sid=sid-valid; imlab_sid='],
    ['other cookies between', 'imlab_sid=; locale=en; imlab_sid=tossed; x=1; imlab_sid=sid-valid'],
  ])('uses the one that is a live session (%s)', async (_name, cookie) => {
    const r = await bearerFor(cookie);
    expect(r.status).toBe(200);
    expect(r.bearer).toBe('Bearer jwt.credits-ledger.usr_valid');
  });

  it('forwards only the live one to auth', async () => {
    const before = fakes.auth.requests.length;
    await send(`${gw.url}/v1/me`, { headers: { cookie: 'imlab_sid=tossed-garbage; imlab_sid=sid-valid' } });
    const seen = fakes.auth.requests.slice(before).find((r) => r.url === '/v1/me')!;
    expect(seen.headers.cookie).toBe('imlab_sid=sid-valid');
    expect(seen.headers.authorization).toBe('Bearer jwt.auth.usr_valid');
  });

  it('is anonymous when none is live, and forwards none of them', async () => {
    const r = await bearerFor('imlab_sid=tossed-a; imlab_sid=tossed-b');
    expect(r.status).toBe(200);
    expect(r.bearer).toBeUndefined();
    const before = fakes.auth.requests.length;
    await send(`${gw.url}/v1/me`, { headers: { cookie: 'imlab_sid=tossed-a; imlab_sid=tossed-c' } });
    expect(fakes.auth.requests.slice(before).find((x) => x.url === '/v1/me')!.headers.cookie).toBeUndefined();
  });

  it('refuses two live sessions (an attacker planting their own) and clears the cookie', async () => {
    const before = fakes.ledger.requests.length;
    const r = await bearerFor('imlab_sid=sid-other; imlab_sid=sid-valid');
    expect(r.status).toBe(401);
    expect(r.code).toBe('GATEWAY_SESSION_COOKIE_CONFLICT');
    expect(String(r.setCookie)).toMatch(/^imlab_sid=; Path=\/; Max-Age=0; HttpOnly; SameSite=Lax; Secure$/);
    expect(fakes.ledger.requests.length).toBe(before);
  });

  it('refuses a flood of session cookies without looking each up', async () => {
    const resolves = fakes.auth.resolves.length;
    const r = await bearerFor(Array.from({ length: 9 }, (_, i) => `imlab_sid=t${i}`).join('; '));
    expect(r.status).toBe(401);
    expect(fakes.auth.resolves.length).toBe(resolves);
  });
});

describe('the production cookie name', () => {
  let prod: RunningGateway;
  beforeAll(async () => {
    prod = await startGateway(fakes, { NODE_ENV: 'production', SESSION_CACHE_TTL: '0' });
  });
  afterAll(async () => prod?.close());

  it('reads __Host-imlab_sid and ignores a plain imlab_sid a sibling subdomain could set', async () => {
    const at = (cookie: string) => send(`${prod.url}/v1/credits/balance`, { headers: { cookie } });
    let before = fakes.ledger.requests.length;
    await at('imlab_sid=sid-other; __Host-imlab_sid=sid-valid');
    expect(fakes.ledger.requests[before]!.headers.authorization).toBe('Bearer jwt.credits-ledger.usr_valid');
    before = fakes.ledger.requests.length;
    await at('imlab_sid=sid-valid');
    expect(fakes.ledger.requests[before]!.headers.authorization).toBeUndefined();
  });
});
