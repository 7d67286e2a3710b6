import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startFakeOidcIssuer, type FakeOidcIssuer, type FakeOidcUser, type IdTokenTamper } from '@imlab/testing';
import { call, settle, ipHash, outboxMessages, sentEmails, signedInUser, startAuth, INTERNAL_TOKEN, PUBLIC_BASE_URL, type TestAuth } from './helpers.js';

let t: TestAuth;
let issuer: FakeOidcIssuer;
const CLIENT = { clientId: 'imlab-test-client.apps.example', clientSecret: 'test-client-secret-0123456789' };

beforeAll(async () => {
  issuer = await startFakeOidcIssuer(CLIENT);
  t = await startAuth('auth_google', { GOOGLE_ISSUER: issuer.issuer, GOOGLE_CLIENT_ID: CLIENT.clientId, GOOGLE_CLIENT_SECRET: CLIENT.clientSecret });
});
afterAll(async () => {
  await t?.close();
  await issuer?.close();
});

/** A browser: starts at auth, is sent to the provider, comes back. */
async function start(returnTo?: string, headers: Record<string, string> = {}) {
  const r = await call(t.url, 'GET', `/v1/auth/google/start${returnTo === undefined ? '' : `?returnTo=${encodeURIComponent(returnTo)}`}`, { headers });
  expect(r.status).toBe(302);
  return { authorizationUrl: r.headers.get('location')!, cookie: r.cookies.imlab_sid!, answer: r };
}

/** The provider's redirect back, replayed against the local auth (the public origin is the gateway's). */
async function callback(providerRedirect: string, cookie: string | undefined, headers: Record<string, string> = {}) {
  const u = new URL(providerRedirect);
  expect(u.origin + u.pathname).toBe(`${PUBLIC_BASE_URL}/v1/auth/google/callback`);
  return call(t.url, 'GET', `${u.pathname}${u.search}`, { cookies: cookie ? { imlab_sid: cookie } : {}, headers });
}

async function signIn(user: FakeOidcUser, tamper?: IdTokenTamper, returnTo?: string) {
  const s = await start(returnTo);
  const back = issuer.approve(s.authorizationUrl, user, tamper);
  return { start: s, back, answer: await callback(back, s.cookie, { 'x-imlab-ip-hash': ipHash(), 'x-imlab-device': 'Chrome on Android' }) };
}

const resolve = (token: string) => call(t.url, 'POST', '/internal/sessions/resolve', { body: { token, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
const errorOf = (location: string | null) => new URL(location!).searchParams.get('error');
const usersWithEmail = async (email: string) => t.ctx.db.selectFrom('users').select('id').where('email', '=', email).execute();

describe('Google sign-in', () => {
  it('is one of the ways to sign in where a Google client is configured', async () => {
    const r = await call(t.url, 'GET', '/v1/auth/methods');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ password: true, google: true });
  });

  it('creates an account keyed by issuer and subject, signs in with a new session, and returns to a safe path', async () => {
    const { start: s, answer } = await signIn({ sub: 'g-100', email: 'Lin@Gmail.example', email_verified: true, name: 'Lin' }, undefined, '/library?tab=mine');
    // the start step only sets imlab_sid, short-lived, and it is not a session
    expect(s.answer.setCookies.map((c) => c.split('=')[0])).toEqual(['imlab_sid']);
    expect(s.answer.setCookies[0]).toMatch(/Max-Age=600/);
    expect(s.answer.setCookies[0]).toMatch(/HttpOnly/i);
    expect((await resolve(s.cookie)).status).toBe(401);
    const auth = new URL(s.authorizationUrl);
    expect(auth.searchParams.get('redirect_uri')).toBe(`${PUBLIC_BASE_URL}/v1/auth/google/callback`);
    expect(auth.searchParams.get('code_challenge_method')).toBe('S256');
    expect(auth.searchParams.get('nonce')).toBeTruthy();
    expect(auth.searchParams.get('state')).toBeTruthy();

    expect(answer.status).toBe(302);
    expect(answer.headers.get('location')).toBe(`${PUBLIC_BASE_URL}/library?tab=mine`);
    const session = answer.cookies.imlab_sid!;
    expect(session).not.toBe(s.cookie);
    const r = await resolve(session);
    expect(r.status).toBe(200);

    const identity = await t.ctx.db.selectFrom('identities').selectAll().where('subject', '=', 'g-100').executeTakeFirstOrThrow();
    expect(identity).toMatchObject({ issuer: issuer.issuer, subject: 'g-100', user_id: r.body.userId });
    const user = await t.ctx.db.selectFrom('users').selectAll().where('id', '=', r.body.userId).executeTakeFirstOrThrow();
    // Google's name claim is not published on the person's behalf: they choose a display name themselves.
    expect(user).toMatchObject({ email: 'lin@gmail.example', password_hash: null, display_name: '' });
    expect(user.email_verified_at).not.toBeNull();
    expect(await outboxMessages(t, 'user.registered')).toContainEqual(expect.objectContaining({ userId: r.body.userId, email: 'lin@gmail.example' }));
    expect(await outboxMessages(t, 'ledger.grant')).toContainEqual(expect.objectContaining({ userId: r.body.userId, idempotencyKey: `signup-bonus:${r.body.userId}` }));
  });

  it('finds the same account by subject even when the Google email changed', async () => {
    const first = await resolve((await signIn({ sub: 'g-200', email: 'old@gmail.example', email_verified: true })).answer.cookies.imlab_sid!);
    const second = await resolve((await signIn({ sub: 'g-200', email: 'new@gmail.example', email_verified: true })).answer.cookies.imlab_sid!);
    expect(second.body.userId).toBe(first.body.userId);
    expect(await usersWithEmail('new@gmail.example')).toEqual([]);
  });

  it('links to an existing password account only when both sides verified the email', async () => {
    const { userId } = await signedInUser(t, 'both@example.com');
    const { answer } = await signIn({ sub: 'g-300', email: 'both@example.com', email_verified: true, hd: 'example.com' });
    expect((await resolve(answer.cookies.imlab_sid!)).body.userId).toBe(userId);
    // the password still works
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'both@example.com', password: 'correct horse battery staple' } })).status).toBe(200);

    await signedInUser(t, 'unverified-at-google@example.com');
    const refused = await signIn({ sub: 'g-301', email: 'unverified-at-google@example.com', email_verified: false });
    expect(refused.answer.status).toBe(302);
    expect(errorOf(refused.answer.headers.get('location'))).toBe('email_unverified');
    expect(refused.answer.cookies.imlab_sid).toBeUndefined();
    expect(await t.ctx.db.selectFrom('identities').select('subject').where('subject', '=', 'g-301').execute()).toEqual([]);
    // an unverified Google address nobody has registered gets the very same answer: no enumeration
    const unknown = await signIn({ sub: 'g-302', email: 'nobody-here@example.com', email_verified: false });
    expect(unknown.answer.status).toBe(302);
    expect(errorOf(unknown.answer.headers.get('location'))).toBe('email_unverified');
    expect(unknown.answer.cookies.imlab_sid).toBeUndefined();
    expect(await usersWithEmail('nobody-here@example.com')).toEqual([]);
  });

  it('does not link to an existing account an address Google does not host (no @gmail.com, no Workspace hd)', async () => {
    const { userId } = await signedInUser(t, 'moved-on@corp.example');
    // a Google account made with that address years ago, by whoever held it then
    const refused = await signIn({ sub: 'g-350', email: 'moved-on@corp.example', email_verified: true });
    expect(errorOf(refused.answer.headers.get('location'))).toBe('link_requires_password');
    expect(refused.answer.cookies.imlab_sid).toBeUndefined();
    expect(await t.ctx.db.selectFrom('identities').select('subject').where('subject', '=', 'g-350').execute()).toEqual([]);
    // a Workspace account of that domain is authoritative, and so is Gmail
    const linked = await signIn({ sub: 'g-351', email: 'moved-on@corp.example', email_verified: true, hd: 'corp.example' });
    expect((await resolve(linked.answer.cookies.imlab_sid!)).body.userId).toBe(userId);
  });

  it('does not let a pre-registered, unverified password account keep access (pre-hijacking)', async () => {
    // the attacker registers the victim's address with a password they know, and never verifies
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'victim@gmail.example', password: 'attacker knows this one' }, headers: { 'x-imlab-ip-hash': ipHash() } });
    await settle(t);
    const [pre] = await usersWithEmail('victim@gmail.example');
    // the victim signs in with Google
    const { answer } = await signIn({ sub: 'g-400', email: 'victim@gmail.example', email_verified: true, hd: 'gmail.example' });
    expect((await resolve(answer.cookies.imlab_sid!)).body.userId).toBe(pre!.id);
    const row = await t.ctx.db.selectFrom('users').select(['password_hash', 'email_verified_at']).where('id', '=', pre!.id).executeTakeFirstOrThrow();
    expect(row.password_hash).toBeNull();
    expect(row.email_verified_at).not.toBeNull();
    const attacker = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'victim@gmail.example', password: 'attacker knows this one' } });
    expect(attacker.status).toBe(401);
    // and the verification link mailed at the attacker's sign-up is void
    const mail = (await t.ctx.db.selectFrom('email_tokens').select('used_at').where('user_id', '=', pre!.id).where('purpose', '=', 'verify').execute());
    expect(mail.every((m) => m.used_at !== null)).toBe(true);
  });
});

describe('Google callback attacks', () => {
  it('without state, or without the browser cookie, nothing happens', async () => {
    const s = await start();
    const back = new URL(issuer.approve(s.authorizationUrl, { sub: 'g-500', email: 'nostate@gmail.example', email_verified: true }));
    const noState = new URL(back);
    noState.searchParams.delete('state');
    const a = await callback(noState.toString(), s.cookie);
    expect(errorOf(a.headers.get('location'))).toBe('oauth_state');
    const b = await callback(back.toString(), undefined);
    expect(errorOf(b.headers.get('location'))).toBe('oauth_state');
    for (const r of [a, b]) expect(r.cookies.imlab_sid).toBeUndefined();
    expect(await usersWithEmail('nostate@gmail.example')).toEqual([]);
  });

  it("refuses a callback carrying another browser's state (login CSRF)", async () => {
    const attacker = await start();
    const victim = await start();
    const attackerBack = issuer.approve(attacker.authorizationUrl, { sub: 'g-600', email: 'attacker@gmail.example', email_verified: true });
    const exchanges = issuer.tokenRequests.ok + issuer.tokenRequests.refused;
    const r = await callback(attackerBack, victim.cookie);
    expect(errorOf(r.headers.get('location'))).toBe('oauth_state');
    expect(r.cookies.imlab_sid).toBeUndefined();
    // refused before the code was ever exchanged
    expect(issuer.tokenRequests.ok + issuer.tokenRequests.refused).toBe(exchanges);
    expect(await usersWithEmail('attacker@gmail.example')).toEqual([]);
  });

  it('refuses a replayed callback and a replayed code', async () => {
    const first = await signIn({ sub: 'g-700', email: 'replay@gmail.example', email_verified: true });
    expect(first.answer.cookies.imlab_sid).toBeDefined();
    // the same redirect again: the pending sign-in was single use
    const again = await callback(first.back, first.start.cookie);
    expect(errorOf(again.headers.get('location'))).toBe('oauth_state');
    // the old code inside a fresh, valid flow: the provider refuses it
    const fresh = await start();
    const state = new URL(fresh.authorizationUrl).searchParams.get('state')!;
    const forged = new URL(first.back);
    forged.searchParams.set('state', state);
    const refusedBefore = issuer.tokenRequests.refused;
    const replay = await callback(forged.toString(), fresh.cookie);
    expect(errorOf(replay.headers.get('location'))).toBe('oauth_failed');
    expect(issuer.tokenRequests.refused).toBe(refusedBefore + 1);
    expect(replay.cookies.imlab_sid).toBeUndefined();
  });

  it.each([
    ['a wrong nonce', { nonce: 'not-the-nonce' }],
    ['a wrong issuer', { iss: 'https://accounts.evil.example' }],
    ['a wrong audience', { aud: 'some-other-client' }],
    ['an expired id_token', { expiresIn: -120 }],
    ['a signature from a key outside the JWKS', { foreignKey: true }],
  ] as [string, IdTokenTamper][])('refuses an id_token with %s', async (_name, tamper) => {
    const email = `tampered-${Object.keys(tamper)[0]}@gmail.example`;
    const { answer } = await signIn({ sub: `g-tamper-${Object.keys(tamper)[0]}`, email, email_verified: true }, tamper);
    expect(answer.status).toBe(302);
    expect(errorOf(answer.headers.get('location'))).toBe('oauth_failed');
    expect(answer.cookies.imlab_sid).toBeUndefined();
    expect(await usersWithEmail(email)).toEqual([]);
    // refused by the id_token checks, after a successful code exchange
    expect(t.logs.text()).toContain('google sign-in refused');
  });

  it('never redirects off-site, whatever returnTo says', async () => {
    for (const returnTo of ['https://evil.example/', '//evil.example/x', '/\\evil.example', '\\\\evil.example', 'javascript:alert(1)', '/ok\r\nSet-Cookie: x=1', 'http:evil.example', '/%0d%0aLocation:%20https://evil.example']) {
      const { answer } = await signIn({ sub: 'g-800', email: 'redirect@gmail.example', email_verified: true }, undefined, returnTo);
      const location = new URL(answer.headers.get('location')!);
      expect(location.origin, returnTo).toBe(PUBLIC_BASE_URL);
    }
    // error redirects too
    const s = await start('https://evil.example/');
    const r = await callback(`${PUBLIC_BASE_URL}/v1/auth/google/callback?code=x&state=y`, s.cookie);
    expect(new URL(r.headers.get('location')!).origin).toBe(PUBLIC_BASE_URL);
  });

  it('another site cannot log a signed-in person out by linking to /google/start, whatever headers the browser sends', async () => {
    const { sid } = await signedInUser(t, 'linked-away@example.com');
    // A browser with Fetch Metadata is sent back to the app, not through Google's account chooser.
    const crossSite = await call(t.url, 'GET', '/v1/auth/google/start', { cookies: { imlab_sid: sid }, headers: { 'sec-fetch-site': 'cross-site', 'sec-fetch-mode': 'navigate' } });
    expect(crossSite.status).toBe(302);
    expect(new URL(crossSite.headers.get('location')!).origin).toBe(PUBLIC_BASE_URL);
    expect(crossSite.setCookies).toEqual([]);
    // An older browser, without it (nothing tells a cross-site link from the app's own button).
    const r = await call(t.url, 'GET', '/v1/auth/google/start', { cookies: { imlab_sid: sid } });
    expect(r.status).toBe(302);
    expect(new URL(r.headers.get('location')!).origin).toBe(new URL(issuer.issuer).origin);
    expect(r.setCookies).toEqual([]); // the session cookie is never replaced by a pending value
    expect((await resolve(sid)).status).toBe(200); // and the person, who goes back, is still signed in
    // No cookie yet: a fresh pending value binds the flow to this browser, and is no session.
    const anonymous = await call(t.url, 'GET', '/v1/auth/google/start', { headers: { 'sec-fetch-site': 'cross-site' } });
    expect(new URL(anonymous.headers.get('location')!).origin).toBe(new URL(issuer.issuer).origin);
    expect(anonymous.cookies.imlab_sid).toBeTruthy();
    expect((await resolve(anonymous.cookies.imlab_sid!)).status).toBe(401);
  });

  it('a signed-in person going through Google: the old session waits in Redis only as a hash, and ends when the new one starts', async () => {
    const { sid } = await signedInUser(t, 'switching@example.com');
    const s = await call(t.url, 'GET', '/v1/auth/google/start', { cookies: { imlab_sid: sid }, headers: { 'sec-fetch-site': 'same-origin' } });
    expect(s.status).toBe(302);
    expect(s.setCookies).toEqual([]); // the flow is bound to the session cookie the browser has
    const redis = t.ctx.bus.redis;
    const keys = await redis.keys(`${t.config.QUEUE_PREFIX}auth:oauth:*`);
    const pending = await Promise.all(keys.map((k) => redis.get(k)));
    expect(pending.length).toBeGreaterThan(0);
    // Neither the cookie nor the hash the sessions table keeps is a key.
    const stored = await t.ctx.db.selectFrom('sessions').select('token_hash').execute();
    expect(`${keys.join('\n')}\n${pending.join('\n')}`).not.toContain(sid);
    for (const k of keys) expect(stored.some((row) => k.endsWith(String(row.token_hash)))).toBe(false);
    // Another browser (without this cookie) cannot finish it.
    const back = issuer.approve(s.headers.get('location')!, { sub: 'google-switching-1', email: 'switching-google@gmail.com', email_verified: true });
    const stranger = await callback(back, 'x'.repeat(43));
    expect(new URL(stranger.headers.get('location')!).pathname).toBe('/sign-in');
    expect((await resolve(sid)).status).toBe(200);
    const answer = await callback(back, sid, { 'x-imlab-ip-hash': ipHash(), 'x-imlab-device': 'Chrome on Android' });
    expect(answer.status).toBe(302);
    expect(answer.cookies.imlab_sid).toBeTruthy();
    expect((await resolve(sid)).status).toBe(401);
    expect((await resolve(answer.cookies.imlab_sid!)).status).toBe(200);
  });

  it('two sign-ins started in one browser (two tabs, or a retry) do not undo each other, and the cookie lasts for the latest', async () => {
    const first = await start('/first');
    const again = await call(t.url, 'GET', '/v1/auth/google/start?returnTo=%2Fsecond', { cookies: { imlab_sid: first.cookie } });
    expect(again.status).toBe(302);
    // The same value (no session), set again for a whole OAUTH_STATE_TTL from now.
    expect(again.cookies.imlab_sid).toBe(first.cookie);
    expect(again.setCookies.join('\n')).toMatch(new RegExp(`Max-Age=${Math.ceil(t.config.OAUTH_STATE_TTL)}`, 'i'));
    // Knowing the cookie is not enough to use up a pending sign-in: the state must match too.
    const firstBack = issuer.approve(first.authorizationUrl, { sub: 'g-two-tabs', email: 'two-tabs@gmail.example', email_verified: true });
    const forged = new URL(firstBack);
    forged.searchParams.set('state', 'not-the-state');
    expect(new URL((await callback(forged.toString(), first.cookie)).headers.get('location')!).pathname).toBe('/sign-in');
    // The first tab finishes (the second's record stays pending, unused, until it expires).
    const done = await callback(firstBack, first.cookie);
    expect(new URL(done.headers.get('location')!).pathname).toBe('/first');
    expect((await resolve(done.cookies.imlab_sid!)).status).toBe(200);
  });

  it('a signed-in browser whose session cookie could expire during the sign-in gets it set again for the sign-in', async () => {
    const { sid, userId } = await signedInUser(t, 'nearly-over@example.com');
    await t.ctx.db.updateTable('sessions').set({ expires_at: new Date(Date.now() + 60_000) }).where('user_id', '=', userId).execute();
    const s = await call(t.url, 'GET', '/v1/auth/google/start', { cookies: { imlab_sid: sid }, headers: { 'sec-fetch-site': 'same-origin' } });
    expect(s.status).toBe(302);
    expect(s.cookies.imlab_sid).toBe(sid); // the same value, still the session
    expect(s.setCookies.join('\n')).toMatch(new RegExp(`Max-Age=${Math.ceil(t.config.OAUTH_STATE_TTL)}`, 'i'));
    expect((await resolve(sid)).status).toBe(200);
  });

  it('builds the redirect_uri from PUBLIC_BASE_URL, not from forwarded host headers', async () => {
    const s = await start('/', { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', forwarded: 'host=evil.example;proto=http' });
    expect(new URL(s.authorizationUrl).searchParams.get('redirect_uri')).toBe(`${PUBLIC_BASE_URL}/v1/auth/google/callback`);
  });
});

describe('Google out of reach', () => {
  it('sends a browser starting a sign-in back to the sign-in page with the reason, not to a JSON problem, and sets nothing', async () => {
    const dead = `http://127.0.0.1:${await freePort()}`;
    const down = await startAuth('auth_google_down', { GOOGLE_ISSUER: dead, GOOGLE_CLIENT_ID: CLIENT.clientId, GOOGLE_CLIENT_SECRET: CLIENT.clientSecret });
    try {
      const r = await call(down.url, 'GET', '/v1/auth/google/start?returnTo=%2Flibrary', { headers: { 'sec-fetch-mode': 'navigate', 'sec-fetch-site': 'same-origin' } });
      expect(r.status).toBe(302);
      expect(r.headers.get('location')).toBe(`${PUBLIC_BASE_URL}/sign-in?error=oauth_unavailable`);
      expect(r.setCookies).toEqual([]);
      // a link flow goes back to the settings with it (its intent is checked first: none here)
      const link = await call(down.url, 'GET', '/v1/auth/google/start?intent=link');
      expect(link.headers.get('location')).toBe(`${PUBLIC_BASE_URL}/settings/security?google=link_expired`);
    } finally {
      await down.close();
    }
  });
});

describe('one Google subject per account', () => {
  it('refuses another Google account carrying the same address, links nothing, and tells the owner by email (once per hour)', async () => {
    const email = 'one.subject@gmail.com';
    const first = await signIn({ sub: 'g-owner-1', email, email_verified: true });
    expect(errorOf(first.answer.headers.get('location'))).toBeNull();
    const [owner] = await usersWithEmail(email);

    const other = await signIn({ sub: 'g-intruder-2', email, email_verified: true });
    expect(other.answer.status).toBe(302);
    expect(errorOf(other.answer.headers.get('location'))).toBe('google_account_mismatch');
    expect(other.answer.cookies.imlab_sid).toBeUndefined();
    const identities = await t.ctx.db.selectFrom('identities').select('subject').where('user_id', '=', owner!.id).execute();
    expect(identities.map((i) => i.subject)).toEqual(['g-owner-1']);
    const told = (await sentEmails(t, email)).filter((m) => m.template === 'google-sign-in-refused');
    expect(told).toHaveLength(1);

    // tried again: still refused, no second mail within the hour
    expect(errorOf((await signIn({ sub: 'g-intruder-3', email, email_verified: true })).answer.headers.get('location'))).toBe('google_account_mismatch');
    expect((await sentEmails(t, email)).filter((m) => m.template === 'google-sign-in-refused')).toHaveLength(1);
    // the linked Google account still signs in
    expect(errorOf((await signIn({ sub: 'g-owner-1', email, email_verified: true })).answer.headers.get('location'))).toBeNull();
  });
});
