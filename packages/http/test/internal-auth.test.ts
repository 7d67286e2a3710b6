import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { createServer, type Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey, type JWK } from 'jose';
import { createLogger } from '@imlab/logger';
import { errorMessage } from '@imlab/contracts';
import { authenticate, buildApp, registerInternalAuth, type App } from '../src/index.js';

const USER = '0190f5f0-0000-7000-8000-000000000002';
const SESSION = '0190f5f0-0000-7000-8000-000000000003';

interface Key {
  kid: string;
  privateKey: CryptoKey;
  jwk: JWK;
}

async function newKey(): Promise<Key> {
  const { privateKey, publicKey } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
  const kid = randomUUID();
  return { kid, privateKey, jwk: { ...(await exportJWK(publicKey)), kid, alg: 'EdDSA', use: 'sig' } };
}

/** Auth's JWKS endpoint: the keys it publishes, whether it answers, and how often it was asked. */
interface Jwks {
  url: string;
  keys: Key[];
  down: boolean;
  fetches: number;
  close: () => Promise<void>;
}

async function startJwks(keys: Key[]): Promise<Jwks> {
  const jwks = { keys, down: false, fetches: 0 } as Jwks;
  const server: Server = createServer((_req, res) => {
    jwks.fetches++;
    if (jwks.down) return void res.writeHead(503).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ keys: jwks.keys.map((k) => k.jwk) }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  jwks.url = `http://127.0.0.1:${(server.address() as { port: number }).port}/.well-known/jwks.json`;
  jwks.close = () => new Promise((r) => server.close(() => r()));
  return jwks;
}

const now = () => Math.floor(Date.now() / 1000);

/** A token as auth mints it, with any claim or header field overridden (null: left out). */
function sign(key: Key, o: { kid?: string | null; aud?: string; iss?: string; iat?: number; exp?: number | null } = {}): Promise<string> {
  const iat = o.iat ?? now();
  const jwt = new SignJWT({ sid: SESSION, roles: ['user'] })
    .setProtectedHeader({ alg: 'EdDSA', ...(o.kid === null ? {} : { kid: o.kid ?? key.kid }), typ: 'JWT' })
    .setSubject(USER)
    .setIssuer(o.iss ?? 'imlab-auth')
    .setAudience(o.aud ?? 'demo')
    .setIssuedAt(iat);
  if (o.exp !== null) jwt.setExpirationTime(o.exp ?? iat + 60);
  return jwt.sign(key.privateKey);
}

async function startService(jwksUrl: string): Promise<App> {
  const app = await buildApp({ service: 'demo', logger: createLogger({ service: 'demo', level: 'silent' }) });
  await registerInternalAuth(app as never, { audience: 'demo', jwksUrl });
  app.get('/whoami', { preHandler: authenticate }, async (request) => request.user);
  await app.ready();
  return app;
}

const whoami = (app: App, authorization?: string) => app.inject({ url: '/whoami', headers: authorization === undefined ? {} : { authorization } });
const bearer = (app: App, token: string) => whoami(app, `Bearer ${token}`);

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  vi.useRealTimers();
  while (cleanups.length) await cleanups.pop()!();
});

/** A service and its own JWKS endpoint, closed after the test. */
async function setup(keys?: Key[]): Promise<{ app: App; jwks: Jwks; key: Key }> {
  const key = await newKey();
  const jwks = await startJwks(keys ?? [key]);
  const app = await startService(jwks.url);
  cleanups.push(() => jwks.close(), () => app.close());
  return { app, jwks, key };
}

describe('registerInternalAuth: the answer to a token', () => {
  let app: App;
  let key: Key;
  let jwks: Jwks;
  beforeAll(async () => {
    key = await newKey();
    jwks = await startJwks([key]);
    app = await startService(jwks.url);
  });
  afterAll(async () => {
    await app.close();
    await jwks.close();
  });

  it('puts the verified claims on request.user', async () => {
    const res = await bearer(app, await sign(key));
    expect(res.statusCode).toBe(200);
    expect(res.json()).toMatchObject({ sub: USER, sid: SESSION, roles: ['user'], iss: 'imlab-auth', aud: 'demo' });
  });

  it('refuses every bad token with the same 401 problem', async () => {
    const bad = [
      await sign(key, { aud: 'billing' }),
      await sign(key, { iss: 'someone-else' }),
      await sign(key, { exp: now() - 1 }), // no clock tolerance: a second late is late
      await sign(key, { iat: now() - 301, exp: now() + 60 }), // older than five minutes, whatever exp says
      'not-a-jwt',
      // signed with auth's key, but not as auth signs: no kid, or no expiry
      await sign(key, { kid: null }),
      await sign(key, { exp: null }),
    ];
    for (const token of bad) {
      const res = await bearer(app, token);
      expect(res.statusCode, token).toBe(401);
      expect(res.headers['content-type']).toMatch(/^application\/problem\+json/);
      expect(res.json()).toMatchObject({ status: 401, code: 'UNAUTHENTICATED', detail: errorMessage('UNAUTHENTICATED', 'en') });
    }
  });

  it('accepts a token issued by a clock a little ahead of this one', async () => {
    expect((await bearer(app, await sign(key, { iat: now() + 30, exp: now() + 90 }))).statusCode).toBe(200);
  });

  it('reads the token from "Authorization: Bearer <token>" only', async () => {
    const token = await sign(key);
    expect((await whoami(app, `bearer ${token}`)).statusCode).toBe(200);
    for (const header of [`Bearer  ${token}`, `Bearer ${token} x`, 'Bearer', 'Bearer ', `Basic ${token}`, token, '']) {
      expect((await whoami(app, header)).statusCode, header).toBe(401);
    }
    expect((await whoami(app)).statusCode).toBe(401);
  });
});

describe("registerInternalAuth: auth's keys", () => {
  it('fetches the JWKS once for many requests, concurrent ones included', async () => {
    const { app, jwks, key } = await setup();
    const token = await sign(key);
    const first = await Promise.all(Array.from({ length: 10 }, () => bearer(app, token)));
    expect(first.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    for (let i = 0; i < 5; i++) expect((await bearer(app, token)).statusCode).toBe(200);
    expect(jwks.fetches).toBe(1);
  });

  it('learns a key published after its last fetch at once, and keeps the previous one (rotation)', async () => {
    const { app, jwks, key: previous } = await setup();
    const oldToken = await sign(previous);
    expect((await bearer(app, oldToken)).statusCode).toBe(200);
    const next = await newKey();
    jwks.keys = [next, previous];
    const newToken = await sign(next);
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => bearer(app, i % 2 ? oldToken : newToken)));
    expect(answers.map((r) => r.statusCode)).toEqual(Array(10).fill(200));
    expect(jwks.fetches).toBe(2);
  });

  it('asks again for an unknown kid, and refuses it when auth does not know it either', async () => {
    const { app, jwks, key } = await setup();
    expect((await bearer(app, await sign(key))).statusCode).toBe(200);
    const stranger = await newKey();
    expect((await bearer(app, await sign(stranger))).statusCode).toBe(401);
    expect(jwks.fetches).toBe(2);
    // a foreign key claiming a known kid is found in the cache and fails on its signature
    expect((await bearer(app, await sign(stranger, { kid: key.kid }))).statusCode).toBe(401);
    expect(jwks.fetches).toBe(2);
  });

  it('answers 401 while the JWKS cannot be fetched, and accepts tokens once it can', async () => {
    const { app, jwks, key } = await setup();
    jwks.down = true;
    const token = await sign(key);
    expect((await bearer(app, token)).statusCode).toBe(401);
    jwks.down = false;
    expect((await bearer(app, token)).statusCode).toBe(200);
  });
});

describe('registerInternalAuth: how long keys are kept', () => {
  const fakeClock = () => vi.useFakeTimers({ toFake: ['Date'], shouldAdvanceTime: true });
  const minutes = (n: number) => vi.setSystemTime(Date.now() + n * 60_000);

  it('asks auth again after five minutes, and refuses a key it stopped publishing from then on', async () => {
    fakeClock();
    const { app, jwks, key } = await setup();
    expect((await bearer(app, await sign(key))).statusCode).toBe(200);
    jwks.keys = [await newKey()];
    minutes(4);
    expect((await bearer(app, await sign(key))).statusCode).toBe(200);
    expect(jwks.fetches).toBe(1);
    minutes(1.5);
    expect((await bearer(app, await sign(key))).statusCode).toBe(401);
    expect(jwks.fetches).toBeGreaterThan(1);
  });

  it('keeps using the keys it has for five more minutes while the JWKS cannot be fetched', async () => {
    fakeClock();
    const { app, jwks, key } = await setup();
    expect((await bearer(app, await sign(key))).statusCode).toBe(200);
    jwks.down = true;
    minutes(6);
    expect((await bearer(app, await sign(key))).statusCode).toBe(200);
    expect(jwks.fetches).toBe(2); // it did ask
    minutes(3);
    expect((await bearer(app, await sign(key))).statusCode).toBe(200);
    minutes(2); // eleven minutes since the last answer
    expect((await bearer(app, await sign(key))).statusCode).toBe(401);
    jwks.down = false;
    expect((await bearer(app, await sign(key))).statusCode).toBe(200);
  });
});
