import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { call, rawEmailPayloads, settle, bearer, ipHash, lastLinkToken, outboxMessages, sentEmails, signedInUser, startAuth, INTERNAL_TOKEN, PUBLIC_BASE_URL, type TestAuth } from './helpers.js';

let t: TestAuth;

async function dropSessionCache(): Promise<void> {
  const keys = await t.ctx.bus.redis.keys(`${t.config.QUEUE_PREFIX}auth:session:*`);
  if (keys.length) await t.ctx.bus.redis.del(...keys);
}
beforeAll(async () => {
  t = await startAuth('auth_happy');
});
afterAll(async () => {
  await t?.close();
});

describe('the ways to sign in', () => {
  it('are an email address and a password only, where no Google client is configured; Google sign-in itself says so', async () => {
    const r = await call(t.url, 'GET', '/v1/auth/methods');
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ password: true, google: false });
    expect(r.headers.get('cache-control')).toBe('public, max-age=300');
    const google = await call(t.url, 'GET', '/v1/auth/google/start');
    expect(google.status).toBe(404);
    expect(google.body).toMatchObject({ code: 'AUTH_GOOGLE_DISABLED' });
  });
});

describe('sign-up, verification and login', () => {
  it('signs up, mails a verification link built from PUBLIC_BASE_URL, verifies, and logs in with a fresh session cookie', async () => {
    const email = 'ada@example.com';
    const ip = ipHash();
    const s = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'Ada@Example.com', password: 'correct horse battery staple', displayName: 'Ada' }, headers: { 'x-imlab-ip-hash': ip } });
    expect(s.status).toBe(202);
    expect(s.setCookies).toEqual([]);

    const [mail] = await sentEmails(t, email);
    expect(mail?.template).toBe('verify-email');
    const link = new URL(String(mail!.data.link));
    expect(link.origin).toBe(PUBLIC_BASE_URL);
    expect(link.pathname).toBe('/verify-email');
    // the token never sits in plain text in the outbox (and so in Redis): it travels sealed
    const token = link.searchParams.get('token')!;
    expect(token.length).toBeGreaterThan(20);
    for (const raw of await rawEmailPayloads(t)) expect(raw).not.toContain(token);

    const registered = await outboxMessages(t, 'user.registered');
    expect(registered).toContainEqual(expect.objectContaining({ email, displayName: 'Ada', locale: 'en' }));
    // The mail names the account it belongs to, so the account's purge scrubs its delivery record.
    const accountId = (registered.find((m) => m.email === email) as { userId: string }).userId;
    expect(mail).toMatchObject({ to: email, userId: accountId, locale: 'en' });

    // not verified yet: the right password is told to verify first
    const early = await call(t.url, 'POST', '/v1/auth/login', { body: { email, password: 'correct horse battery staple' } });
    expect(early.status).toBe(403);
    expect(early.body.code).toBe('AUTH_EMAIL_NOT_VERIFIED');
    expect(early.setCookies).toEqual([]);

    const v = await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token: link.searchParams.get('token') } });
    expect(v.status).toBe(200);
    const userId = String(registered.at(-1)!.userId);
    // (user.verified has no subscriber in contracts yet, so the bus writes no outbox row for it)
    // the sign-up bonus goes to the ledger as a promo grant, keyed per user
    expect(await outboxMessages(t, 'ledger.grant')).toContainEqual({ idempotencyKey: `signup-bonus:${userId}`, userId, amount: 50, source: 'promo', reference: 'signup-bonus' });

    const l = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'ADA@example.com', password: 'correct horse battery staple' }, headers: { 'x-imlab-device': 'Firefox on macOS' } });
    expect(l.status).toBe(200);
    expect(l.body).toMatchObject({ id: userId, email, emailVerified: true, displayName: 'Ada', roles: ['user'], hasPassword: true, google: false });
    const sidLine = l.setCookies.find((c) => c.startsWith('imlab_sid='))!;
    expect(sidLine).toMatch(/HttpOnly/i);
    expect(sidLine).toMatch(/Secure/i);
    expect(sidLine).toMatch(/SameSite=Lax/i);
    expect(sidLine).toMatch(/Path=\//);
    expect(sidLine).toMatch(/Max-Age=2592000/);
    expect(l.cookies.imlab_sid).toMatch(/^[A-Za-z0-9_-]{43}$/); // 256 bits
    expect(l.cookies.locale).toBe('en');
  });

  it('stores the password only as an argon2id hash with the OWASP parameters', async () => {
    const row = await t.ctx.db.selectFrom('users').select('password_hash').where('email', '=', 'ada@example.com').executeTakeFirstOrThrow();
    expect(row.password_hash).toMatch(/^\$argon2id\$v=19\$m=19456,t=2,p=1\$/);
    expect(row.password_hash).not.toContain('correct horse');
  });

  it('normalises passwords with NFKC, so a full-width form of the same password signs in', async () => {
    const email = 'nfkc@example.com';
    await signedInUser(t, email, 'Ｐａｓｓｗｏｒｄ-ｗｉｔｈ-ｗｉｄｔｈ');
    const l = await call(t.url, 'POST', '/v1/auth/login', { body: { email, password: 'Password-with-width' } });
    expect(l.status).toBe(200);
  });

  it('refuses short, overlong and common passwords with a clear problem, creating nothing', async () => {
    for (const password of ['short', 'x'.repeat(257), 'password123', 'iloveyou1', 'qwertyuiop']) {
      const r = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'weak@example.com', password } });
      expect(r.status, password).toBe(400);
      expect(r.headers.get('content-type')).toMatch(/application\/problem\+json/);
      expect(r.body.code).toBe('AUTH_WEAK_PASSWORD');
    }
    expect(await t.ctx.db.selectFrom('users').select('id').where('email', '=', 'weak@example.com').execute()).toEqual([]);
  });

  it('rejects a malformed body with problem+json and nothing changed', async () => {
    const r = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'not-an-email', password: 'correct horse battery staple' } });
    expect(r.status).toBe(400);
    expect(r.body.code).toBe('VALIDATION_FAILED');
  });

  it('resends the verification mail with a cooldown, and the old link stops working', async () => {
    const email = 'resend@example.com';
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: 'correct horse battery staple' }, headers: { 'x-imlab-ip-hash': ipHash() } });
    const first = await lastLinkToken(t, email, 'verify-email');
    const again = await call(t.url, 'POST', '/v1/auth/verify-email/resend', { body: { email } });
    expect(again.status).toBe(202);
    expect((await sentEmails(t, email)).length).toBe(1); // still cooling down
    await t.ctx.bus.redis.del(...(await t.ctx.bus.redis.keys(`${t.config.QUEUE_PREFIX}auth:cooldown:verify:*`)));
    await call(t.url, 'POST', '/v1/auth/verify-email/resend', { body: { email } });
    expect((await sentEmails(t, email)).length).toBe(2);
    const second = await lastLinkToken(t, email, 'verify-email');
    expect((await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token: first } })).status).toBe(400);
    expect((await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token: second } })).status).toBe(200);
  });
});

describe('sessions', () => {
  it('resolves the cookie for the gateway into a short-lived internal token, and lists and revokes sessions', async () => {
    const { sid, userId } = await signedInUser(t, 'sessions@example.com', undefined, { 'x-imlab-device': 'Safari on iOS' });
    const r = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'credits-ledger' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ userId, roles: ['user'], expiresIn: 60 });
    const [, payload] = r.body.token.split('.');
    const claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    expect(claims).toMatchObject({ iss: 'imlab-auth', aud: 'credits-ledger', sub: userId, sid: r.body.sessionId, roles: ['user'] });
    expect(claims.exp - claims.iat).toBe(60);

    // a second device
    const other = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'sessions@example.com', password: 'correct horse battery staple' }, headers: { 'x-imlab-device': 'Chrome on Windows' } });
    const list = await call(t.url, 'GET', '/v1/me/sessions', { headers: await bearer(t, sid) });
    expect(list.status).toBe(200);
    expect(list.body.items).toHaveLength(2);
    expect(list.body.nextCursor).toBeNull();
    // No cursor was ever given out: an empty one is the first page, any other is refused as on every list.
    expect((await call(t.url, 'GET', '/v1/me/sessions?cursor=&limit=20', { headers: await bearer(t, sid) })).body.items).toHaveLength(2);
    expect((await call(t.url, 'GET', '/v1/me/sessions?cursor=garbage', { headers: await bearer(t, sid) })).body).toMatchObject({ status: 400, code: 'INVALID_CURSOR' });
    const current = list.body.items.find((s: { current: boolean }) => s.current);
    expect(current).toMatchObject({ device: 'Safari on iOS', browser: 'Safari', os: 'iOS' });
    const theOther = list.body.items.find((s: { current: boolean }) => !s.current);
    expect(theOther).toMatchObject({ device: 'Chrome on Windows', browser: 'Chrome', os: 'Windows' });
    // a label the gateway would not make is not stored as given: an unknown device
    const odd = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'sessions@example.com', password: 'correct horse battery staple' }, headers: { 'x-imlab-device': 'Mozilla/5.0 (X11; Linux x86_64)' } });
    expect(odd.status).toBe(200);
    const oddOne = (await call(t.url, 'GET', '/v1/me/sessions', { headers: await bearer(t, sid) })).body.items.find((s: { device: string }) => !['Safari on iOS', 'Chrome on Windows'].includes(s.device));
    expect(oddOne).toMatchObject({ device: 'Unknown device', browser: null, os: null });

    const del = await call(t.url, 'DELETE', `/v1/me/sessions/${theOther.id}`, { headers: await bearer(t, sid) });
    expect(del.status).toBe(204);
    const gone = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: other.cookies.imlab_sid, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
    expect(gone.status).toBe(401);
    expect(gone.body.code).toBe('AUTH_SESSION_INVALID');
  });

  it('caches lookups in Redis under a hash of the token, never the token itself', async () => {
    const { sid } = await signedInUser(t, 'cache@example.com');
    await bearer(t, sid);
    const keys = await t.ctx.bus.redis.keys(`${t.config.QUEUE_PREFIX}*`);
    expect(keys.some((k) => k.includes('auth:session:'))).toBe(true);
    for (const k of keys) {
      expect(k).not.toContain(sid);
      const type = await t.ctx.bus.redis.type(k);
      if (type === 'string') expect(await t.ctx.bus.redis.get(k)).not.toContain(sid);
    }
  });

  it('logout ends the session at once (the cache too) and clears the cookie', async () => {
    const { sid } = await signedInUser(t, 'logout@example.com');
    const auth = await bearer(t, sid); // warms the cache
    const out = await call(t.url, 'POST', '/v1/auth/logout', { headers: auth, cookies: { imlab_sid: sid } });
    expect(out.status).toBe(204);
    expect(out.cookies.imlab_sid).toBe('');
    const r = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
    expect(r.status).toBe(401);
    // the not-yet-expired internal token no longer opens auth's own routes either
    expect((await call(t.url, 'GET', '/v1/me', { headers: auth })).status).toBe(401);
  });

  it('logout-all ends every session of the person', async () => {
    const a = await signedInUser(t, 'everywhere@example.com');
    const b = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'everywhere@example.com', password: 'correct horse battery staple' } });
    await bearer(t, b.cookies.imlab_sid!);
    const out = await call(t.url, 'POST', '/v1/auth/logout-all', { headers: await bearer(t, a.sid) });
    expect(out.status).toBe(204);
    for (const token of [a.sid, b.cookies.imlab_sid]) {
      const r = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
      expect(r.status).toBe(401);
    }
  });

  it('a revocation landing between a lookup\'s database read and its cache write wins', async () => {
    const { sid } = await signedInUser(t, 'race@example.com');
    const redis = t.ctx.bus.redis as unknown as Record<'set' | 'eval', (...args: unknown[]) => Promise<unknown>>;
    const original = { set: redis.set, eval: redis.eval };
    let revoked = false;
    // Hold the lookup's cache write until logout-all has gone through: the worst interleaving.
    for (const name of ['set', 'eval'] as const) {
      redis[name] = async function (this: unknown, ...args: unknown[]) {
        const key = String(name === 'eval' ? args[2] : args[0]);
        if (!revoked && key.includes('auth:session:')) {
          revoked = true;
          await t.app.auth.sessions.revokeAll(lookupUser!);
        }
        return original[name].apply(this, args);
      };
    }
    let lookupUser: string | undefined;
    try {
      const row = await t.ctx.db.selectFrom('users').select('id').where('email', '=', 'race@example.com').executeTakeFirstOrThrow();
      lookupUser = row.id;
      await dropSessionCache();
      await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
    } finally {
      redis.set = original.set;
      redis.eval = original.eval;
    }
    expect(revoked).toBe(true);
    const after = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
    expect(after.status).toBe(401);
  });

  it('writes last_seen_at at most once per interval however many requests arrive', async () => {
    const { sid } = await signedInUser(t, 'touch@example.com');
    const { sql } = await import('@imlab/db');
    // pretend the session was last seen two minutes ago, and nothing is cached
    await sql`update sessions set last_seen_at = now() - interval '2 minutes'`.execute(t.ctx.db);
    await dropSessionCache();
    // count every write of last_seen_at with a trigger (test database only)
    await sql`create table if not exists touch_log (session_id uuid not null)`.execute(t.ctx.db);
    await sql`create or replace function log_touch() returns trigger language plpgsql as $$
      begin
        if new.last_seen_at is distinct from old.last_seen_at then insert into touch_log values (new.id); end if;
        return new;
      end $$`.execute(t.ctx.db);
    await sql`create or replace trigger sessions_touch_log after update on sessions for each row execute function log_touch()`.execute(t.ctx.db);
    const answers = await Promise.all(
      Array.from({ length: 20 }, () => call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } })),
    );
    expect(answers.every((a) => a.status === 200)).toBe(true);
    const { sessionId } = answers[0]!.body;
    const touched = await sql<{ n: number }>`select count(*)::int as n from touch_log where session_id = ${sessionId}`.execute(t.ctx.db);
    expect(touched.rows[0]!.n).toBe(1);
    const row = await t.ctx.db.selectFrom('sessions').innerJoin('users', 'users.id', 'sessions.user_id').select('sessions.last_seen_at').where('users.email', '=', 'touch@example.com').executeTakeFirstOrThrow();
    expect(Date.now() - row.last_seen_at.getTime()).toBeLessThan(30_000);
  });

  it('refuses a session past its idle timeout', async () => {
    const { sid } = await signedInUser(t, 'idle@example.com');
    const { sql } = await import('@imlab/db');
    await sql`update sessions set last_seen_at = now() - interval '8 days' where user_id = (select id from users where email = 'idle@example.com')`.execute(t.ctx.db);
    const r = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
    expect(r.status).toBe(401);
  });

  it('refuses resolve calls without the internal token', async () => {
    const r = await call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: 'x', audience: 'auth' } });
    expect(r.status).toBe(403);
  });
});

describe('profile', () => {
  it('reads and updates the display name and locale, sets the locale cookie from the stored value, and tells notification', async () => {
    const { sid, userId } = await signedInUser(t, 'profile@example.com');
    const me = await call(t.url, 'GET', '/v1/me', { headers: await bearer(t, sid) });
    expect(me.status).toBe(200);
    // No name is made up from the address (it would show in the public gallery): none until one is set.
    expect(me.body).toMatchObject({ id: userId, displayName: '', locale: 'en' });
    expect(await outboxMessages(t, 'user.registered')).toContainEqual(expect.objectContaining({ userId, displayName: '' }));
    const p = await call(t.url, 'PATCH', '/v1/me', { body: { displayName: '  Grace  ', locale: 'zh' }, headers: await bearer(t, sid) });
    expect(p.status).toBe(200);
    expect(p.body).toMatchObject({ displayName: 'Grace', locale: 'zh' });
    // A name can be removed again (the gallery then says anonymous).
    const cleared = await call(t.url, 'PATCH', '/v1/me', { body: { displayName: '  ' }, headers: await bearer(t, sid) });
    expect(cleared.body).toMatchObject({ displayName: '' });
    expect(await outboxMessages(t, 'user.updated')).toContainEqual({ userId, email: 'profile@example.com', locale: 'zh', displayName: '' });
    await call(t.url, 'PATCH', '/v1/me', { body: { displayName: 'Grace' }, headers: await bearer(t, sid) });
    expect(p.cookies.locale).toBe('zh');
    expect(await outboxMessages(t, 'user.updated')).toContainEqual({ userId, email: 'profile@example.com', locale: 'zh', displayName: 'Grace' });
  });

  it('refuses a locale other than en or zh, and never reflects it into a cookie', async () => {
    const { sid } = await signedInUser(t, 'locale@example.com');
    const p = await call(t.url, 'PATCH', '/v1/me', { body: { locale: 'en; Domain=evil.example' }, headers: await bearer(t, sid) });
    expect(p.status).toBe(400);
    expect(p.setCookies).toEqual([]);
    // a bogus locale cookie at sign-up is ignored
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'cookie-locale@example.com', password: 'correct horse battery staple' }, cookies: { locale: 'xx<script>' } });
    await settle(t);
    const row = await t.ctx.db.selectFrom('users').select('locale').where('email', '=', 'cookie-locale@example.com').executeTakeFirstOrThrow();
    expect(row.locale).toBe('en');
  });

  it("carries the account's locale in the internal token, and answers problems in it unless a locale cookie says otherwise", async () => {
    const { sid, userId } = await signedInUser(t, 'zh-reader@example.com');
    const resolve = () => call(t.url, 'POST', '/internal/sessions/resolve', { body: { token: sid, audience: 'credits-ledger' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });
    const claimsOf = (token: string) => JSON.parse(Buffer.from(token.split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
    const before = await resolve();
    expect(before.body).toMatchObject({ userId, locale: 'en' });
    expect(claimsOf(before.body.token)).toMatchObject({ sub: userId, locale: 'en' });
    const enList = await call(t.url, 'GET', '/v1/me/sessions?cursor=garbage', { headers: await bearer(t, sid) });
    expect(enList.body).toMatchObject({ status: 400, code: 'INVALID_CURSOR', title: 'Bad Request', detail: 'This page link is no longer valid; start again from the first page.' });

    // Changing the locale takes effect at once: cached session lookups are dropped.
    expect((await call(t.url, 'PATCH', '/v1/me', { body: { locale: 'zh' }, headers: await bearer(t, sid) })).status).toBe(200);
    const after = await resolve();
    expect(after.body).toMatchObject({ userId, locale: 'zh' });
    expect(claimsOf(after.body.token)).toMatchObject({ sub: userId, locale: 'zh' });
    const zhList = await call(t.url, 'GET', '/v1/me/sessions?cursor=garbage', { headers: { ...(await bearer(t, sid)), 'accept-language': 'en' } });
    expect(zhList.body).toMatchObject({ status: 400, code: 'INVALID_CURSOR', title: '请求错误', detail: '分页游标无效，请从第一页重新开始。' });
    // This browser's cookie wins over the account.
    const cookieEn = await call(t.url, 'GET', '/v1/me/sessions?cursor=garbage', { headers: await bearer(t, sid), cookies: { locale: 'en' } });
    expect(cookieEn.body).toMatchObject({ title: 'Bad Request', detail: 'This page link is no longer valid; start again from the first page.' });
  });

  it('answers sign-in problems in the language of the locale cookie or of Accept-Language, in English by default', async () => {
    await signedInUser(t, 'wrong-password@example.com');
    const login = (opts: { headers?: Record<string, string>; cookies?: Record<string, string> }) =>
      call(t.url, 'POST', '/v1/auth/login', { body: { email: 'wrong-password@example.com', password: 'not the password at all' }, ...opts });
    expect((await login({})).body).toMatchObject({ status: 401, code: 'AUTH_INVALID_CREDENTIALS', title: 'Unauthorized', detail: 'The email or password is incorrect.' });
    const zh = { status: 401, code: 'AUTH_INVALID_CREDENTIALS', title: '未登录', detail: '邮箱或密码不正确。' };
    expect((await login({ cookies: { locale: 'zh' } })).body).toMatchObject(zh);
    expect((await login({ headers: { 'accept-language': 'zh-CN,zh;q=0.9' } })).body).toMatchObject(zh);
    const weak = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'weak-zh@example.com', password: 'short' }, cookies: { locale: 'zh' } });
    expect(weak.body).toMatchObject({ status: 400, code: 'AUTH_WEAK_PASSWORD', detail: '密码长度须为 8–256 个字符。' });
  });

  it('answers 401 without a valid internal token', async () => {
    expect((await call(t.url, 'GET', '/v1/me')).status).toBe(401);
    expect((await call(t.url, 'GET', '/v1/me', { headers: { authorization: 'Bearer nonsense' } })).status).toBe(401);
  });
});
