import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SignJWT, importJWK, generateKeyPair, type JWK, type CryptoKey } from 'jose';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { buildApp, registerInternalAuth, authenticate, requireRole, REVOCATION_CACHE_MS, type App } from '@imlab/http';
import { createLogger } from '@imlab/logger';
import { captureLogs } from '@imlab/testing';
import { build } from '../src/app.js';
import { generateSigningJwk, keyRingFrom } from '../src/keys/keys.js';
import { runRolesCommand } from '../src/cli/roles.js';
import { bearer, call, signedInUser, startAuth, INTERNAL_TOKEN, type TestAuth } from './helpers.js';

let t: TestAuth;
let service: App;
let serviceUrl: string;
let currentJwk: JWK;
const jwksFronts: Server[] = [];

/**
 * The address services know auth's JWKS by (a Service/load balancer in production): passes each
 * request to whichever auth instance is current, so a rollout can swap the instance behind it.
 */
async function startJwksFront(): Promise<string> {
  const jwksFront = createServer((_req, res) => {
    fetch(`${t.url}/.well-known/jwks.json`)
      .then(async (r) => res.writeHead(r.status, { 'content-type': 'application/json' }).end(await r.text()))
      .catch(() => res.writeHead(502).end());
  });
  jwksFronts.push(jwksFront);
  await new Promise<void>((r) => jwksFront.listen(0, '127.0.0.1', r));
  return `http://127.0.0.1:${(jwksFront.address() as { port: number }).port}/.well-known/jwks.json`;
}

/** A tiny service that trusts auth exactly as every real service does. */
async function startVerifier(jwksUrl: string): Promise<{ app: App; url: string }> {
  const app = await buildApp({ service: 'generation', logger: createLogger({ service: 'generation', level: 'silent', destination: captureLogs().stream }) });
  await registerInternalAuth(app as never, { audience: 'generation', jwksUrl, revocation: { redis: t.ctx.bus.redis, keyPrefix: t.ctx.bus.prefix } });
  app.get('/whoami', { preHandler: authenticate }, async (request) => ({ sub: request.user.sub, sid: request.user.sid, roles: request.user.roles }));
  app.get('/finance-only', { preHandler: requireRole('finance') }, async () => ({ ok: true }));
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, url: `http://127.0.0.1:${(app.server.address() as { port: number }).port}` };
}

const resolve = async (sid: string, audience = 'generation') =>
  (await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } })).body;
const whoami = (token: string, path = '/whoami') => call(serviceUrl, 'GET', path, { headers: { authorization: `Bearer ${token}` } });

beforeAll(async () => {
  currentJwk = await generateSigningJwk();
  t = await startAuth('auth_jwt', { AUTH_SIGNING_KEYS: JSON.stringify([currentJwk]) });
  ({ app: service, url: serviceUrl } = await startVerifier(await startJwksFront()));
});
afterAll(async () => {
  await service?.close();
  await t?.close();
  await Promise.all(jwksFronts.map((f) => new Promise((r) => f.close(r))));
});

describe('internal tokens verified by registerInternalAuth against auth\'s JWKS', () => {
  it('publishes public keys only, and a resolved token opens another service', async () => {
    const jwks = await call(t.url, 'GET', '/.well-known/jwks.json');
    expect(jwks.status).toBe(200);
    expect(jwks.body.keys).toHaveLength(1);
    expect(jwks.body.keys[0]).toMatchObject({ kty: 'OKP', crv: 'Ed25519', alg: 'EdDSA', kid: currentJwk.kid });
    expect(jwks.body.keys[0].d).toBeUndefined();

    const { sid, userId } = await signedInUser(t, 'svc@example.com');
    const r = await resolve(sid);
    const ok = await whoami(r.token);
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ sub: userId, sid: r.sessionId, roles: ['user'] });
  });

  describe('forged and misused tokens are refused', () => {
    let userId: string;
    let sessionId: string;
    let privateKey: CryptoKey;
    beforeAll(async () => {
      const { sid } = await signedInUser(t, 'forge@example.com');
      const r = await resolve(sid);
      userId = r.userId;
      sessionId = r.sessionId;
      privateKey = (await importJWK(currentJwk, 'EdDSA')) as CryptoKey;
    });
    const claims = () => ({ sub: userId, sid: sessionId, roles: ['user', 'admin'] });
    const now = () => Math.floor(Date.now() / 1000);

    it('alg none', async () => {
      const header = Buffer.from(JSON.stringify({ alg: 'none', kid: currentJwk.kid, typ: 'JWT' })).toString('base64url');
      const body = Buffer.from(JSON.stringify({ ...claims(), iss: 'imlab-auth', aud: 'generation', iat: now(), exp: now() + 60 })).toString('base64url');
      expect((await whoami(`${header}.${body}.`)).status).toBe(401);
    });

    it('HS256 signed with the public key', async () => {
      const publicJwk = (await call(t.url, 'GET', '/.well-known/jwks.json')).body.keys[0];
      for (const secret of [Buffer.from(publicJwk.x, 'base64url'), Buffer.from(JSON.stringify(publicJwk)), Buffer.from(publicJwk.x)]) {
        const header = Buffer.from(JSON.stringify({ alg: 'HS256', kid: currentJwk.kid, typ: 'JWT' })).toString('base64url');
        const body = Buffer.from(JSON.stringify({ ...claims(), iss: 'imlab-auth', aud: 'generation', iat: now(), exp: now() + 60 })).toString('base64url');
        const sig = createHmac('sha256', secret).update(`${header}.${body}`).digest('base64url');
        expect((await whoami(`${header}.${body}.${sig}`)).status).toBe(401);
      }
    });

    it('signed with another key, under our kid or an unknown one', async () => {
      const { privateKey: other } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
      for (const kid of [currentJwk.kid!, 'unknown-kid']) {
        const token = await new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid }).setIssuer('imlab-auth').setAudience('generation').setIssuedAt().setExpirationTime('60s').sign(other);
        expect((await whoami(token)).status).toBe(401);
      }
    });

    it('for another audience, from another issuer, or expired — even when signed with the real key', async () => {
      const sign = (aud: string, iss: string, exp: number) =>
        new SignJWT(claims()).setProtectedHeader({ alg: 'EdDSA', kid: currentJwk.kid! }).setIssuer(iss).setAudience(aud).setIssuedAt(exp - 60).setExpirationTime(exp).sign(privateKey);
      // control: the same construction with the right claims passes, so the refusals below are about the claim
      expect((await whoami(await sign('generation', 'imlab-auth', now() + 60))).status).toBe(200);
      expect((await whoami(await sign('billing', 'imlab-auth', now() + 60))).status).toBe(401);
      expect((await whoami(await sign('generation', 'someone-else', now() + 60))).status).toBe(401);
      expect((await whoami(await sign('generation', 'imlab-auth', now() - 5))).status).toBe(401);
      // and the gateway cannot get a token for a made-up audience
      const { sid } = await signedInUser(t, 'aud-probe@example.com');
      const bad = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'evil' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
      expect(bad.status).toBe(400);
      // without the internal token, even a malformed request learns nothing but 403 (the token is checked first)
      const stranger = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { audience: 42 } });
      expect(stranger.status).toBe(403);
    });
  });
});

describe("auth's own /v1/me applies the same rules to the gateway's token", () => {
  it('refuses alg none, HS256 with the public key, a foreign key, and another audience; accepts the real one', async () => {
    const { sid, userId } = await signedInUser(t, 'self@example.com');
    const real = await resolve(sid, 'auth');
    const me = (token: string) => call(t.url, 'GET', '/v1/me', { headers: { authorization: `Bearer ${token}` } });
    expect((await me(real.token)).status).toBe(200);
    const now = Math.floor(Date.now() / 1000);
    const body = Buffer.from(JSON.stringify({ sub: userId, sid: real.sessionId, roles: ['user'], iss: 'imlab-auth', aud: 'auth', iat: now, exp: now + 60 })).toString('base64url');
    const none = `${Buffer.from(JSON.stringify({ alg: 'none', kid: currentJwk.kid })).toString('base64url')}.${body}.`;
    const hsHeader = Buffer.from(JSON.stringify({ alg: 'HS256', kid: currentJwk.kid })).toString('base64url');
    const hs = `${hsHeader}.${body}.${createHmac('sha256', Buffer.from(currentJwk.x!, 'base64url')).update(`${hsHeader}.${body}`).digest('base64url')}`;
    const { privateKey: other } = await generateKeyPair('EdDSA', { crv: 'Ed25519' });
    const foreign = await new SignJWT({ sid: real.sessionId, roles: ['user'] }).setProtectedHeader({ alg: 'EdDSA', kid: currentJwk.kid! }).setSubject(userId).setIssuer('imlab-auth').setAudience('auth').setIssuedAt().setExpirationTime('60s').sign(other);
    const otherAudience = (await resolve(sid, 'billing')).token;
    for (const token of [none, hs, foreign, otherAudience]) expect((await me(token)).status).toBe(401);
  });
});

describe('roles', () => {
  it('are assigned by the CLI command and reach the next internal token at once', async () => {
    const { sid } = await signedInUser(t, 'finance@example.com');
    const before = await resolve(sid); // cached with roles [user]
    expect((await whoami(before.token, '/finance-only')).status).toBe(403);
    const out: string[] = [];
    const code = await runRolesCommand(['Finance@Example.com', 'finance', 'ops'], t.env, (l) => out.push(l));
    expect(code).toBe(0);
    expect(out.join('\n')).toContain('finance@example.com: user finance ops');
    const after = await resolve(sid);
    expect(after.roles).toEqual(['user', 'finance', 'ops']);
    expect((await whoami(after.token, '/finance-only')).status).toBe(200);
  });

  it('adds and removes roles with +role/-role, keeping the rest (user always stays)', async () => {
    await signedInUser(t, 'staff@example.com');
    const out: string[] = [];
    const roles = async () => (await t.ctx.db.selectFrom('users').select('roles').where('email', '=', 'staff@example.com').executeTakeFirstOrThrow()).roles;
    expect(await runRolesCommand(['staff@example.com', 'admin'], t.env, (l) => out.push(l))).toBe(0);
    expect(await runRolesCommand(['staff@example.com', '+finance', '+moderator'], t.env, (l) => out.push(l))).toBe(0);
    expect(await roles()).toEqual(['user', 'admin', 'finance', 'moderator']);
    expect(await runRolesCommand(['staff@example.com', '-admin', '-user', '+ops'], t.env, (l) => out.push(l))).toBe(0);
    expect(await roles()).toEqual(['user', 'finance', 'moderator', 'ops']);
    expect(out.at(-1)).toBe('staff@example.com: user finance moderator ops');
    // the two forms are not mixed, and an unknown role after a sign is refused: nothing changes
    expect(await runRolesCommand(['staff@example.com', 'admin', '+finance'], t.env, (l) => out.push(l))).toBe(2);
    expect(out.at(-1)).toMatch(/not both/);
    expect(await runRolesCommand(['staff@example.com', '+root'], t.env, (l) => out.push(l))).toBe(2);
    expect(out.at(-1)).toMatch(/unknown role\(s\): \+root/);
    expect(await roles()).toEqual(['user', 'finance', 'moderator', 'ops']);
  });

  it('refuses an unknown role and changes nothing', async () => {
    await signedInUser(t, 'plain@example.com');
    const out: string[] = [];
    expect(await runRolesCommand(['plain@example.com', 'finance', 'superuser'], t.env, (l) => out.push(l))).toBe(2);
    expect(out.join('\n')).toMatch(/unknown role/);
    const row = await t.ctx.db.selectFrom('users').select('roles').where('email', '=', 'plain@example.com').executeTakeFirstOrThrow();
    expect(row.roles).toEqual(['user']);
  });
});

describe('key rotation', () => {
  it('publishes the new and the previous key, so tokens of both verify and no request fails', async () => {
    const { sid } = await signedInUser(t, 'rotate@example.com');
    const oldToken = (await resolve(sid)).token;
    expect((await whoami(oldToken)).status).toBe(200); // the service now caches the old key

    // roll out an auth instance with [new, previous] behind the same JWKS address, retire the old one
    const next = await generateSigningJwk();
    const { d: _d, ...previousPublic } = currentJwk;
    const rotated = await build({ config: t.config, logger: createLogger({ service: 'auth', level: 'silent' }), ctx: t.ctx, keys: await keyRingFrom([next, previousPublic]) });
    await rotated.listen({ port: 0, host: '127.0.0.1' });
    const old = t.app;
    t.app = rotated;
    t.url = `http://127.0.0.1:${(rotated.server.address() as { port: number }).port}`;
    await old.close();

    const jwks = await call(t.url, 'GET', '/.well-known/jwks.json');
    expect(jwks.body.keys.map((k: JWK) => k.kid)).toEqual([next.kid, currentJwk.kid]);
    const newToken = (await resolve(sid)).token;
    expect(JSON.parse(Buffer.from(newToken.split('.')[0], 'base64url').toString()).kid).toBe(next.kid);

    // a burst of requests carrying old and new tokens while the service learns the new key
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => whoami(i % 2 ? oldToken : newToken)));
    expect(answers.map((a) => a.status)).toEqual(Array(20).fill(200));
    // a service instance that starts now, with no cached keys, also accepts both
    const fresh = await startVerifier(await startJwksFront());
    try {
      const freshAnswers = await Promise.all(
        Array.from({ length: 10 }, (_, i) => call(fresh.url, 'GET', '/whoami', { headers: { authorization: `Bearer ${i % 2 ? oldToken : newToken}` } })),
      );
      expect(freshAnswers.map((a) => a.status)).toEqual(Array(10).fill(200));
    } finally {
      await fresh.app.close();
    }
  });
});

describe('revocation reaches the services within REVOCATION_CACHE_MS', () => {
  /** Until the service refuses `token` (polled every 50 ms); how long that took, in ms. */
  async function refusedWithin(token: string, limitMs: number): Promise<number> {
    const started = Date.now();
    for (;;) {
      const r = await whoami(token);
      if (r.status === 401) return Date.now() - started;
      expect(r.status).toBe(200);
      if (Date.now() - started > limitMs) throw new Error(`still accepted after ${limitMs} ms`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  // The cache bound plus room for a loaded machine (polling, HTTP round trips); before, tokens lived on for 60 s.
  const BOUND = REVOCATION_CACHE_MS + 1000;

  it('logout-all: every session\'s tokens minted before are refused', async () => {
    const { sid } = await signedInUser(t, 'revoke-all@example.com');
    const other = (await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'revoke-all@example.com', password: 'correct horse battery staple' } })).cookies.imlab_sid!;
    const [mine, theirs] = [(await resolve(sid)).token, (await resolve(other)).token];
    expect((await whoami(mine)).status).toBe(200);
    expect((await whoami(theirs)).status).toBe(200);
    expect((await call(t.url, 'POST', '/v1/auth/logout-all', { headers: await bearer(t, sid) })).status).toBe(204);
    expect(await refusedWithin(mine, BOUND)).toBeLessThanOrEqual(BOUND);
    expect(await refusedWithin(theirs, BOUND)).toBeLessThanOrEqual(BOUND);
  });

  it('DELETE /v1/me: tokens minted before are refused', async () => {
    const { sid } = await signedInUser(t, 'revoke-delete@example.com');
    const token = (await resolve(sid)).token;
    expect((await whoami(token)).status).toBe(200);
    const del = await call(t.url, 'DELETE', '/v1/me', { body: { password: 'correct horse battery staple' }, headers: await bearer(t, sid) });
    expect(del.status).toBeLessThan(300);
    expect(await refusedWithin(token, BOUND)).toBeLessThanOrEqual(BOUND);
  });

  it('logout of one session: its tokens are refused, another session\'s are not', async () => {
    const { sid } = await signedInUser(t, 'revoke-one@example.com');
    const other = (await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'revoke-one@example.com', password: 'correct horse battery staple' } })).cookies.imlab_sid!;
    const token = (await resolve(sid)).token;
    const kept = (await resolve(other)).token;
    expect((await call(t.url, 'POST', '/v1/auth/logout', { headers: { cookie: `imlab_sid=${sid}` } })).status).toBe(204);
    expect(await refusedWithin(token, BOUND)).toBeLessThanOrEqual(BOUND);
    expect((await whoami(kept)).status).toBe(200);
  });
});
