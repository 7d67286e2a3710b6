import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeOidcIssuer, type FakeOidcIssuer, type FakeOidcUser } from '@imlab/testing';
import { hashToken } from '../src/lib/tokens.js';
import { bearer, call, ipHash, outboxMessages, sentEmails, signedInUser, startAuth, INTERNAL_TOKEN, PUBLIC_BASE_URL, type TestAuth } from './helpers.js';

let t: TestAuth;
let issuer: FakeOidcIssuer;
const CLIENT = { clientId: 'imlab-settings-client.apps.example', clientSecret: 'test-client-secret-settings-0123' };
const PASSWORD = 'correct horse battery staple';

beforeAll(async () => {
  issuer = await startFakeOidcIssuer(CLIENT);
  t = await startAuth('auth_settings', {
    GOOGLE_ISSUER: issuer.issuer,
    GOOGLE_CLIENT_ID: CLIENT.clientId,
    GOOGLE_CLIENT_SECRET: CLIENT.clientSecret,
    LOGIN_FREE_ATTEMPTS: '3',
  });
});
afterAll(async () => {
  await t?.close();
  await issuer?.close();
});

const resolve = (token: string) => call(t.url, 'POST', '/internal/sessions/resolve', { body: { token, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
/** The session signed in an hour ago: past RECENT_LOGIN_WINDOW, a change needs the password. */
const signedInLongAgo = (sid: string) =>
  t.ctx.db.updateTable('sessions').set({ authenticated_at: new Date(Date.now() - 3600_000) }).where('token_hash', '=', hashToken(sid)).execute();
const userRow = (id: string) => t.ctx.db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirstOrThrow();
const login = (email: string, password: string) => call(t.url, 'POST', '/v1/auth/login', { body: { email, password } });
/** A request as the gateway forwards it for the session `sid`. */
const as = async (sid: string, method: string, path: string, body?: unknown) => call(t.url, method, path, { body, headers: await bearer(t, sid) });
const linkToken = (link: unknown, name: string) => new URL(String(link)).searchParams.get(name)!;

describe('changing the password while signed in', () => {
  it('needs the current password once the sign-in is not recent, ends every other session, keeps this one, and mails the person', async () => {
    const { sid, userId } = await signedInUser(t, 'pw-change@example.com');
    const other = (await login('pw-change@example.com', PASSWORD)).cookies.imlab_sid!;
    await signedInLongAgo(sid);
    const missing = await as(sid, 'PUT', '/v1/me/password', { newPassword: 'a new lantern harbour 9' });
    expect(missing.status).toBe(403);
    expect(missing.body).toMatchObject({ code: 'AUTH_REAUTH_REQUIRED' });
    const wrong = await as(sid, 'PUT', '/v1/me/password', { currentPassword: 'not it at all', newPassword: 'a new lantern harbour 9' });
    expect(wrong.status).toBe(403);
    expect(wrong.body.detail).toBe('The password is incorrect.');
    const weak = await as(sid, 'PUT', '/v1/me/password', { currentPassword: PASSWORD, newPassword: 'short' });
    expect(weak.status).toBe(400);
    expect(weak.body).toMatchObject({ code: 'AUTH_WEAK_PASSWORD' });
    // nothing changed by the refusals
    expect((await login('pw-change@example.com', PASSWORD)).status).toBe(200);

    const ok = await as(sid, 'PUT', '/v1/me/password', { currentPassword: PASSWORD, newPassword: 'a new lantern harbour 9' });
    expect(ok.status).toBe(204);
    expect((await resolve(sid)).status).toBe(200);
    expect((await resolve(other)).status).toBe(401);
    expect((await login('pw-change@example.com', PASSWORD)).status).toBe(401);
    expect((await login('pw-change@example.com', 'a new lantern harbour 9')).status).toBe(200);
    const mail = (await sentEmails(t, 'pw-change@example.com')).filter((m) => m.template === 'password-changed');
    expect(mail).toHaveLength(1);
    expect((await userRow(userId)).password_hash).toMatch(/^\$argon2id\$/);
  });

  it('guessing the current password through a stolen session runs into the sign-in backoff', async () => {
    const { sid } = await signedInUser(t, 'pw-guess@example.com');
    const codes: number[] = [];
    for (let i = 0; i < 5; i++) codes.push((await as(sid, 'PUT', '/v1/me/password', { currentPassword: `guess number ${i}`, newPassword: 'a new lantern harbour 9' })).status);
    expect(codes.slice(0, 3)).toEqual([403, 403, 403]);
    expect(codes.at(-1)).toBe(429);
    // and the right one is refused during the backoff too
    const right = await as(sid, 'PUT', '/v1/me/password', { currentPassword: PASSWORD, newPassword: 'a new lantern harbour 9' });
    expect(right.status).toBe(429);
    expect(right.headers.get('retry-after')).toMatch(/^\d+$/);
  });

  it('sets a first password on a Google-only account after a recent sign-in; Google then can be unlinked', async () => {
    const s = await googleSignIn({ sub: 'g-set-1', email: 'only-google@gmail.example', email_verified: true });
    const me = await as(s, 'GET', '/v1/me');
    expect(me.body).toMatchObject({ hasPassword: false, google: true });
    // Google is the only way in: unlinking is refused
    const refused = await as(s, 'POST', '/v1/me/google/unlink', {});
    expect(refused.status).toBe(409);
    expect(refused.body).toMatchObject({ code: 'AUTH_LAST_SIGN_IN_METHOD' });
    expect((await as(s, 'PUT', '/v1/me/password', { newPassword: 'first password of mine 3' })).status).toBe(204);
    expect((await as(s, 'GET', '/v1/me')).body).toMatchObject({ hasPassword: true, google: true });
    expect((await login('only-google@gmail.example', 'first password of mine 3')).status).toBe(200);
    const unlinked = await as(s, 'POST', '/v1/me/google/unlink', {});
    expect(unlinked.status).toBe(204);
    expect((await as(s, 'GET', '/v1/me')).body).toMatchObject({ hasPassword: true, google: false });
    expect((await sentEmails(t, 'only-google@gmail.example')).map((m) => m.template)).toEqual(expect.arrayContaining(['password-changed', 'google-unlinked']));
    expect((await as(s, 'POST', '/v1/me/google/unlink', {})).body).toMatchObject({ code: 'AUTH_GOOGLE_NOT_LINKED' });
  });

  it('an old Google-only session (not recent) cannot set a password without signing in again', async () => {
    const s = await googleSignIn({ sub: 'g-set-2', email: 'stale-google@gmail.example', email_verified: true });
    await signedInLongAgo(s);
    const r = await as(s, 'PUT', '/v1/me/password', { currentPassword: 'anything at all', newPassword: 'first password of mine 3' });
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'AUTH_REAUTH_REQUIRED' });
    expect((await as(s, 'GET', '/v1/me')).body.hasPassword).toBe(false);
  });
});

describe('changing the email address', () => {
  it('confirms by a link to the new address; the old one is told and can take it back', async () => {
    const { sid, userId } = await signedInUser(t, 'move-me@example.com');
    const asked = await as(sid, 'POST', '/v1/me/email', { newEmail: 'Moved.Here@Example.com', currentPassword: PASSWORD });
    expect(asked.status).toBe(202);
    // nothing changes until the new inbox confirms
    expect((await userRow(userId)).email).toBe('move-me@example.com');
    const [confirmMail] = (await sentEmails(t, 'moved.here@example.com')).filter((m) => m.template === 'email-change-confirm');
    expect(confirmMail).toBeDefined();
    const confirmToken = linkToken(confirmMail!.data.link, 'confirm');
    // the link's page can say what it will do, and looking uses nothing up (twice, then still confirmable)
    for (let i = 0; i < 2; i++) {
      const preview = await call(t.url, 'POST', '/v1/auth/email/confirm/preview', { body: { token: confirmToken } });
      expect(preview.status).toBe(200);
      // the new address in full; nothing of the old one (the new inbox's mail showed none of it)
      expect(preview.body).toEqual({ to: 'moved.here@example.com' });
    }
    // a link's token is good for its own purpose only
    expect((await call(t.url, 'POST', '/v1/auth/email/undo/preview', { body: { token: confirmToken } })).body).toMatchObject({ code: 'AUTH_INVALID_TOKEN' });
    expect((await userRow(userId)).email).toBe('move-me@example.com');
    const confirmed = await call(t.url, 'POST', '/v1/auth/email/confirm', { body: { token: confirmToken } });
    expect(confirmed.status).toBe(200);
    expect(confirmed.body).toEqual({ email: 'moved.here@example.com' });
    expect((await userRow(userId)).email).toBe('moved.here@example.com');
    // single use
    expect((await call(t.url, 'POST', '/v1/auth/email/confirm', { body: { token: linkToken(confirmMail!.data.link, 'confirm') } })).status).toBe(400);
    // the session goes on; sign-in is by the new address now
    expect((await resolve(sid)).status).toBe(200);
    expect((await login('moved.here@example.com', PASSWORD)).status).toBe(200);
    expect((await login('move-me@example.com', PASSWORD)).status).toBe(401);
    // notification learns the new address
    expect(await outboxMessages(t, 'user.updated')).toContainEqual(expect.objectContaining({ userId, email: 'moved.here@example.com' }));

    const [told] = (await sentEmails(t, 'move-me@example.com')).filter((m) => m.template === 'email-changed');
    expect(told!.data.newEmailMasked).toBe('m•••@example.com');
    // a used link says so before anyone presses a button
    const usedPreview = await call(t.url, 'POST', '/v1/auth/email/confirm/preview', { body: { token: confirmToken } });
    expect(usedPreview.status).toBe(400);
    expect(usedPreview.body).toMatchObject({ code: 'AUTH_INVALID_TOKEN' });
    const undoToken = linkToken(told!.data.link, 'undo');
    expect((await call(t.url, 'POST', '/v1/auth/email/undo/preview', { body: { token: undoToken } })).body).toEqual({ from: 'm•••@example.com', to: 'move-me@example.com' });
    expect((await userRow(userId)).email).toBe('moved.here@example.com');
    const undo = await call(t.url, 'POST', '/v1/auth/email/undo', { body: { token: undoToken } });
    expect(undo.status).toBe(204);
    expect((await call(t.url, 'POST', '/v1/auth/email/undo/preview', { body: { token: undoToken } })).status).toBe(400);
    const back = await userRow(userId);
    expect(back.email).toBe('move-me@example.com');
    // locked down: no session, no password, a reset link to the old address
    expect(back.password_hash).toBeNull();
    expect((await resolve(sid)).status).toBe(401);
    expect((await login('move-me@example.com', PASSWORD)).status).toBe(401);
    const reset = (await sentEmails(t, 'move-me@example.com')).filter((m) => m.template === 'password-reset').at(-1)!;
    const chosen = await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token: linkToken(reset.data.link, 'token'), password: 'mine again and safe 4' } });
    expect(chosen.status).toBe(204);
    expect((await login('move-me@example.com', 'mine again and safe 4')).status).toBe(200);
  });

  it('answers the same for an address another account has, and sends it nothing', async () => {
    await signedInUser(t, 'taken-already@example.com');
    const { sid } = await signedInUser(t, 'wants-taken@example.com');
    const before = (await sentEmails(t, 'taken-already@example.com')).length;
    const taken = await as(sid, 'POST', '/v1/me/email', { newEmail: 'taken-already@example.com', currentPassword: PASSWORD });
    const free = await as(sid, 'POST', '/v1/me/email', { newEmail: 'free-address-1@example.com', currentPassword: PASSWORD });
    expect(taken.status).toBe(202);
    expect(free.status).toBe(202);
    expect(taken.body).toEqual(free.body);
    expect((await sentEmails(t, 'taken-already@example.com')).length).toBe(before);
    expect((await as(sid, 'POST', '/v1/me/email', { newEmail: 'wants-taken@example.com', currentPassword: PASSWORD })).body).toMatchObject({ code: 'AUTH_EMAIL_UNCHANGED' });
    expect((await as(sid, 'POST', '/v1/me/email', { newEmail: 'not an address', currentPassword: PASSWORD })).status).toBe(400);
  });

  it('a preview of a link refuses what is not a live token, as a problem', async () => {
    for (const path of ['/v1/auth/email/confirm/preview', '/v1/auth/email/undo/preview']) {
      const missing = await call(t.url, 'POST', path, { body: {} });
      expect(missing.status).toBe(400);
      expect(missing.headers.get('content-type')).toContain('application/problem+json');
      expect(missing.body).toMatchObject({ code: 'VALIDATION_FAILED' });
      expect((await call(t.url, 'POST', path, { body: { token: 'q3v6Jt0cH2m9sXh1bE4yR8wK5nA7pL0z' } })).body).toMatchObject({ code: 'AUTH_INVALID_TOKEN' });
    }
  });

  it('a confirmation that arrives after someone else took the address changes nothing', async () => {
    const { sid, userId } = await signedInUser(t, 'slow-mover@example.com');
    await as(sid, 'POST', '/v1/me/email', { newEmail: 'contested@example.com', currentPassword: PASSWORD });
    const [mail] = (await sentEmails(t, 'contested@example.com')).filter((m) => m.template === 'email-change-confirm');
    await signedInUser(t, 'contested@example.com');
    const late = await call(t.url, 'POST', '/v1/auth/email/confirm', { body: { token: linkToken(mail!.data.link, 'confirm') } });
    expect(late.status).toBe(409);
    expect(late.body).toMatchObject({ code: 'AUTH_EMAIL_TAKEN' });
    expect((await userRow(userId)).email).toBe('slow-mover@example.com');
  });

  it('one link per cooldown: the form cannot be used to mail an address over and over', async () => {
    const { sid } = await signedInUser(t, 'mailer@example.com');
    for (let i = 0; i < 4; i++) expect((await as(sid, 'POST', '/v1/me/email', { newEmail: 'target-inbox@example.com', currentPassword: PASSWORD })).status).toBe(202);
    expect((await sentEmails(t, 'target-inbox@example.com')).length).toBe(1);
  });
});

describe('linking and unlinking Google', () => {
  it('links the Google account chosen after a confirmed request, keeps the session, and mails the person', async () => {
    const { sid, userId } = await signedInUser(t, 'linker@example.com');
    // without the intent set through the API, ?intent=link links nothing
    const bare = await call(t.url, 'GET', '/v1/auth/google/start?intent=link', { cookies: { imlab_sid: sid } });
    expect(bare.status).toBe(302);
    expect(bare.headers.get('location')).toBe(`${PUBLIC_BASE_URL}/settings/security?google=link_expired`);

    const started = await as(sid, 'POST', '/v1/me/google/link', { currentPassword: PASSWORD });
    expect(started.status).toBe(200);
    const go = await call(t.url, 'GET', started.body.url, { cookies: { imlab_sid: sid } });
    expect(go.status).toBe(302);
    // the session cookie is not replaced during the flow
    expect(go.cookies.imlab_sid).toBeUndefined();
    const back = issuer.approve(go.headers.get('location')!, { sub: 'g-link-1', email: 'someone.else@gmail.example', email_verified: true });
    const done = await callback(back, sid);
    expect(done.headers.get('location')).toBe(`${PUBLIC_BASE_URL}/settings/security?google=linked`);
    expect(done.cookies.imlab_sid).toBeUndefined();
    expect((await resolve(sid)).status).toBe(200);
    expect((await as(sid, 'GET', '/v1/me')).body).toMatchObject({ google: true, hasPassword: true });
    expect((await sentEmails(t, 'linker@example.com')).map((m) => m.template)).toContain('google-linked');
    // that Google account now signs in to this account
    const again = await googleSignInAnswer({ sub: 'g-link-1', email: 'someone.else@gmail.example', email_verified: true });
    expect((await resolve(again.cookies.imlab_sid!)).body.userId).toBe(userId);
    // a second link is refused before Google is even asked
    expect((await as(sid, 'POST', '/v1/me/google/link', { currentPassword: PASSWORD })).body).toMatchObject({ code: 'AUTH_GOOGLE_ALREADY_LINKED' });
  });

  it('refuses a Google account that already belongs to another account', async () => {
    await googleSignIn({ sub: 'g-link-taken', email: 'first-owner@gmail.example', email_verified: true });
    const { sid, userId } = await signedInUser(t, 'second-owner@example.com');
    const started = await as(sid, 'POST', '/v1/me/google/link', { currentPassword: PASSWORD });
    const go = await call(t.url, 'GET', started.body.url, { cookies: { imlab_sid: sid } });
    const back = issuer.approve(go.headers.get('location')!, { sub: 'g-link-taken', email: 'first-owner@gmail.example', email_verified: true });
    const done = await callback(back, sid);
    expect(done.headers.get('location')).toBe(`${PUBLIC_BASE_URL}/settings/security?google=google_in_use`);
    expect(await t.ctx.db.selectFrom('identities').select('subject').where('user_id', '=', userId).execute()).toEqual([]);
  });
});

describe('keeping an account scheduled for deletion', () => {
  it('a correct sign-in during the grace period offers to keep it; keeping it restores the account and signs in', async () => {
    const { sid, userId } = await signedInUser(t, 'changed-mind@example.com');
    const del = await as(sid, 'DELETE', '/v1/me', { password: PASSWORD });
    expect(del.status).toBe(202);
    expect((await userRow(userId)).status).toBe('deleted');

    // a wrong password learns nothing about the deletion
    const wrong = await login('changed-mind@example.com', 'not the password');
    expect(wrong.status).toBe(401);
    expect(wrong.body.code).toBe('AUTH_INVALID_CREDENTIALS');
    const right = await login('changed-mind@example.com', PASSWORD);
    expect(right.status).toBe(403);
    expect(right.body).toMatchObject({ code: 'AUTH_DELETION_SCHEDULED', purgeAfter: del.body.purgeAfter });
    expect(right.cookies.imlab_sid).toBeUndefined();
    expect(right.body.restoreToken).toMatch(/^[A-Za-z0-9_-]{20,}$/);
    // the token is not stored, only its hash
    const stored = await t.ctx.db.selectFrom('email_tokens').select('token_hash').where('user_id', '=', userId).where('purpose', '=', 'restore').execute();
    expect(JSON.stringify(stored)).not.toContain(right.body.restoreToken);

    const kept = await call(t.url, 'POST', '/v1/auth/account/restore', { body: { token: right.body.restoreToken } });
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ id: userId, email: 'changed-mind@example.com' });
    expect((await resolve(kept.cookies.imlab_sid!)).status).toBe(200);
    const row = await userRow(userId);
    expect(row).toMatchObject({ status: 'active', purge_after: null });
    expect(await outboxMessages(t, 'user.deletion-cancelled')).toContainEqual({ userId });
    expect((await sentEmails(t, 'changed-mind@example.com')).map((m) => m.template)).toEqual(expect.arrayContaining(['account-deletion-scheduled', 'account-deletion-cancelled']));
    // single use
    expect((await call(t.url, 'POST', '/v1/auth/account/restore', { body: { token: right.body.restoreToken } })).status).toBe(400);
    // and nothing is purged when the date comes
    await t.ctx.db.updateTable('users').set({ purge_after: new Date(Date.now() - 1000) }).where('id', '=', userId).execute();
    await t.app.auth.privacy.runOnce();
    expect((await userRow(userId)).status).toBe('active');
  });

  it('a purge that already began cannot be undone: the token is refused and nothing comes back', async () => {
    const { sid, userId } = await signedInUser(t, 'too-late@example.com');
    await as(sid, 'DELETE', '/v1/me', { password: PASSWORD });
    const right = await login('too-late@example.com', PASSWORD);
    expect(right.body.code).toBe('AUTH_DELETION_SCHEDULED');
    await t.ctx.db.updateTable('users').set({ purge_after: new Date(Date.now() - 1000) }).where('id', '=', userId).execute();
    const late = await call(t.url, 'POST', '/v1/auth/account/restore', { body: { token: right.body.restoreToken } });
    expect(late.status).toBe(400);
    expect(late.body.code).toBe('AUTH_INVALID_TOKEN');
    // past the date the password answers like any wrong one
    expect((await login('too-late@example.com', PASSWORD)).status).toBe(401);
    await t.app.auth.privacy.runOnce();
    expect(await t.ctx.db.selectFrom('users').select('id').where('id', '=', userId).execute()).toEqual([]);
  });

  it('Google sign-in to an account in its grace period offers to keep it too (the token in the fragment only)', async () => {
    const s = await googleSignIn({ sub: 'g-keep-1', email: 'keep-google@gmail.example', email_verified: true });
    expect((await as(s, 'DELETE', '/v1/me', {})).status).toBe(202);
    const answer = await googleSignInAnswer({ sub: 'g-keep-1', email: 'keep-google@gmail.example', email_verified: true });
    const location = new URL(answer.headers.get('location')!);
    expect(location.pathname).toBe('/sign-in');
    expect(location.searchParams.get('error')).toBe('deletion_scheduled');
    const fragment = new URLSearchParams(location.hash.slice(1));
    expect(answer.cookies.imlab_sid).toBeUndefined();
    const kept = await call(t.url, 'POST', '/v1/auth/account/restore', { body: { token: fragment.get('restore') } });
    expect(kept.status).toBe(200);
    expect(kept.body).toMatchObject({ email: 'keep-google@gmail.example', google: true });
  });
});

// ---- Google helpers ----------------------------------------------------------------------------

async function callback(providerRedirect: string, cookie: string | undefined) {
  const u = new URL(providerRedirect);
  return call(t.url, 'GET', `${u.pathname}${u.search}`, { cookies: cookie ? { imlab_sid: cookie } : {}, headers: { 'x-imlab-ip-hash': ipHash(), 'x-imlab-device': 'Firefox on Linux' } });
}

async function googleSignInAnswer(user: FakeOidcUser) {
  const start = await call(t.url, 'GET', '/v1/auth/google/start');
  return callback(issuer.approve(start.headers.get('location')!, user), start.cookies.imlab_sid);
}

/** Signs in with Google; answers the new session cookie. */
async function googleSignIn(user: FakeOidcUser): Promise<string> {
  const answer = await googleSignInAnswer(user);
  const sid = answer.cookies.imlab_sid;
  if (!sid) throw new Error(`google sign-in failed: ${answer.headers.get('location')}`);
  return sid;
}
