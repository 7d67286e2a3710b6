import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sql } from '@imlab/db';
import { call, settle, bearer, ipHash, lastLinkToken, sentEmails, signedInUser, startAuth, INTERNAL_TOKEN, PUBLIC_BASE_URL, type Answer, type TestAuth } from './helpers.js';

let t: TestAuth;
beforeAll(async () => {
  t = await startAuth('auth_security', { LOGIN_FREE_ATTEMPTS: '3', LOGIN_BACKOFF_BASE: '1', LOGIN_BACKOFF_MAX: '2', SIGNUPS_PER_IP_PER_DAY: '3' });
});
afterAll(async () => {
  await t?.close();
});

const PASSWORD = 'correct horse battery staple';
const VOLATILE = new Set(['date', 'x-request-id', 'connection', 'keep-alive']);

/** Status, body (minus the request id) and every header but the volatile ones. */
function shape(a: Answer) {
  const headers = [...a.headers.entries()].filter(([k]) => !VOLATILE.has(k));
  const body = typeof a.body === 'object' && a.body ? { ...a.body, requestId: undefined } : a.body;
  return { status: a.status, body, headers };
}

const resolve = (token: string) => call(t.url, 'POST', '/internal/sessions/resolve', { body: { token, audience: 'auth' }, headers: { 'x-imlab-internal-token': INTERNAL_TOKEN } });

describe('no answer tells known emails from unknown ones', () => {
  beforeAll(async () => {
    await signedInUser(t, 'known@example.com');
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'unverified@example.com', password: PASSWORD }, headers: { 'x-imlab-ip-hash': ipHash() } });
  });

  it('sign-up answers the same for a taken and a free address', async () => {
    const taken = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'known@example.com', password: PASSWORD }, headers: { 'x-imlab-ip-hash': ipHash() } });
    const free = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'free@example.com', password: PASSWORD }, headers: { 'x-imlab-ip-hash': ipHash() } });
    expect(shape(taken)).toEqual(shape(free));
  });

  it('forgot-password and resend answer the same for known, unverified and unknown addresses', async () => {
    for (const path of ['/v1/auth/password/forgot', '/v1/auth/verify-email/resend']) {
      const answers = await Promise.all(['known@example.com', 'unverified@example.com', 'nobody@example.com'].map((email) => call(t.url, 'POST', path, { body: { email } })));
      expect(shape(answers[0]!)).toEqual(shape(answers[2]!));
      expect(shape(answers[1]!)).toEqual(shape(answers[2]!));
    }
  });

  it('a wrong password and an unknown email get the same answer in comparable time', async () => {
    const wrong = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'known@example.com', password: 'not the password at all' } });
    const unknown = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'ghost@example.com', password: 'not the password at all' } });
    expect(wrong.status).toBe(401);
    expect(shape(wrong)).toEqual(shape(unknown));
    await t.app.auth.accounts.backoff.clear('known@example.com');
    await t.app.auth.accounts.backoff.clear('ghost@example.com');

    const time = async (email: string) => {
      await t.app.auth.accounts.backoff.clear(email); // measure the password check, not the backoff
      const start = performance.now();
      await call(t.url, 'POST', '/v1/auth/login', { body: { email, password: 'still not the password' } });
      return performance.now() - start;
    };
    const known: number[] = [];
    const ghost: number[] = [];
    for (let i = 0; i < 7; i++) {
      known.push(await time('known@example.com'));
      ghost.push(await time('ghost@example.com'));
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
    const ratio = median(known) / median(ghost);
    // both pay one argon2id verification (~tens of ms); a skipped hash would be >10x faster.
    // Wide bounds: the machine is shared, so single requests jitter.
    expect(ratio).toBeGreaterThan(1 / 4);
    expect(ratio).toBeLessThan(4);
    await t.app.auth.accounts.backoff.clear('known@example.com');
    await t.app.auth.accounts.backoff.clear('ghost@example.com');
  });
});

describe('brute-force backoff', () => {
  it('after the free attempts even the right password gets the backoff answer, the same as for an unknown address', async () => {
    await signedInUser(t, 'target@example.com');
    for (let i = 0; i < 3; i++) {
      expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'target@example.com', password: 'guess number ' + i } })).status).toBe(401);
      expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'phantom@example.com', password: 'guess number ' + i } })).status).toBe(401);
    }
    const right = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'target@example.com', password: PASSWORD } });
    const phantom = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'phantom@example.com', password: PASSWORD } });
    expect(right.status).toBe(429);
    expect(right.body.code).toBe('AUTH_TOO_MANY_ATTEMPTS');
    expect(Number(right.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(right.setCookies).toEqual([]);
    expect(shape(right)).toEqual(shape(phantom));
  });

  it('never locks the owner out: the wait is capped, and a password reset clears it', async () => {
    // hammer well past the free attempts: the wait stays at LOGIN_BACKOFF_MAX (2 s here)
    for (let i = 0; i < 10; i++) {
      await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'target@example.com', password: 'hammer' } });
      await new Promise((r) => setTimeout(r, 50));
    }
    const waiting = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'target@example.com', password: PASSWORD } });
    expect(Number(waiting.headers.get('retry-after'))).toBeLessThanOrEqual(2);

    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'target@example.com' } });
    const token = await lastLinkToken(t, 'target@example.com', 'password-reset');
    expect((await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'a brand new passphrase' } })).status).toBe(204);
    const after = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'target@example.com', password: 'a brand new passphrase' } });
    expect(after.status).toBe(200);
  });
});

describe('password reset', () => {
  it('mails a link on PUBLIC_BASE_URL whatever Host the request claims, and revokes every session', async () => {
    const { sid } = await signedInUser(t, 'reset@example.com');
    const f = await call(t.url, 'POST', '/v1/auth/password/forgot', {
      body: { email: 'reset@example.com' },
      headers: { 'x-forwarded-host': 'evil.example', 'x-forwarded-proto': 'http', forwarded: 'host=evil.example', origin: 'https://evil.example' },
    });
    expect(f.status).toBe(202);
    // Host itself spoofed on a raw request
    const net = await import('node:net');
    const port = new URL(t.url).port;
    await new Promise<void>((resolveRaw, reject) => {
      const socket = net.connect(Number(port), '127.0.0.1', () => {
        const body = JSON.stringify({ email: 'reset@example.com' });
        socket.end(`POST /v1/auth/password/forgot HTTP/1.1\r\nHost: evil.example\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`);
      });
      socket.on('data', () => {});
      socket.on('end', () => resolveRaw());
      socket.on('error', reject);
    });
    const mails = (await sentEmails(t, 'reset@example.com')).filter((m) => m.template === 'password-reset');
    expect(mails.length).toBeGreaterThanOrEqual(1);
    for (const m of mails) expect(new URL(String(m.data.link)).origin).toBe(PUBLIC_BASE_URL);

    const token = await lastLinkToken(t, 'reset@example.com', 'password-reset');
    // a weak new password is refused without using up the link
    const weak = await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'password' } });
    expect(weak.status).toBe(400);
    const ok = await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'a different passphrase' } });
    expect(ok.status).toBe(204);
    expect((await resolve(sid)).status).toBe(401);
    expect((await sentEmails(t, 'reset@example.com')).some((m) => m.template === 'password-changed')).toBe(true);
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'reset@example.com', password: PASSWORD } })).status).toBe(401);

    // single use
    const again = await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'yet another passphrase' } });
    expect(again.status).toBe(400);
    expect(again.body.code).toBe('AUTH_INVALID_TOKEN');
  });

  it('refuses an expired link', async () => {
    await signedInUser(t, 'expired@example.com');
    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'expired@example.com' } });
    const token = await lastLinkToken(t, 'expired@example.com', 'password-reset');
    await sql`update email_tokens set expires_at = now() - interval '1 second' where purpose = 'reset' and used_at is null`.execute(t.ctx.db);
    const r = await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'a different passphrase' } });
    expect(r.status).toBe(400);
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'expired@example.com', password: PASSWORD } })).status).toBe(200);
  });

  it("A's reset link changes only A's password", async () => {
    await signedInUser(t, 'alice@example.com');
    const bob = await signedInUser(t, 'bob@example.com');
    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'alice@example.com' } });
    const token = await lastLinkToken(t, 'alice@example.com', 'password-reset');
    await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'alice new passphrase' } });
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'bob@example.com', password: PASSWORD } })).status).toBe(200);
    expect((await resolve(bob.sid)).status).toBe(200);
  });

  it('a verification link cannot be used as a reset link, nor twice', async () => {
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'purpose@example.com', password: PASSWORD }, headers: { 'x-imlab-ip-hash': ipHash() } });
    const token = await lastLinkToken(t, 'purpose@example.com', 'verify-email');
    expect((await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: 'hijacked passphrase' } })).status).toBe(400);
    expect((await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token } })).status).toBe(200);
    expect((await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token } })).status).toBe(400);
  });
});

describe('pre-hijacking: someone signs up first with another person\'s address', () => {
  it('keeps neither password when sign-ups disagree; the inbox owner verifies and is sent a reset link', async () => {
    const email = 'prehijack@example.com';
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: 'attacker passphrase one' }, headers: { 'x-imlab-ip-hash': ipHash() } });
    await settle(t);
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: 'the owners own passphrase' }, headers: { 'x-imlab-ip-hash': ipHash() } });
    await settle(t);
    const token = await lastLinkToken(t, email, 'verify-email');
    const verified = await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token } });
    expect(verified.body).toEqual({ verified: true, passwordResetRequired: true });
    // Neither password opens the account…
    for (const password of ['attacker passphrase one', 'the owners own passphrase']) {
      expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email, password } })).status).toBe(401);
    }
    // …the owner chooses one through the link that came with the verification.
    const reset = await lastLinkToken(t, email, 'password-reset');
    expect((await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token: reset, password: 'the owners own passphrase' } })).status).toBe(204);
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email, password: 'the owners own passphrase' } })).status).toBe(200);
  });

  it('keeps the password when the same person simply signs up twice with it', async () => {
    const email = 'twice@example.com';
    for (let i = 0; i < 2; i++) {
      await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD }, headers: { 'x-imlab-ip-hash': ipHash() } });
      await settle(t);
    }
    const token = await lastLinkToken(t, email, 'verify-email');
    expect((await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token } })).body).toEqual({ verified: true, passwordResetRequired: false });
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email, password: PASSWORD } })).status).toBe(200);
  });

  it('a reset voids older verification links, so one clicked later cannot end the sessions of today', async () => {
    const email = 'late-verify@example.com';
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD }, headers: { 'x-imlab-ip-hash': ipHash() } });
    await settle(t);
    const verifyToken = await lastLinkToken(t, email, 'verify-email');
    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email } });
    await settle(t);
    const reset = await lastLinkToken(t, email, 'password-reset');
    expect((await call(t.url, 'POST', '/v1/auth/password/reset', { body: { token: reset, password: 'a brand new passphrase' } })).status).toBe(204);
    const login = await call(t.url, 'POST', '/v1/auth/login', { body: { email, password: 'a brand new passphrase' } });
    expect(login.status).toBe(200);
    const sid = login.setCookies.find((c) => c.startsWith('imlab_sid='))!.split(';')[0]!.slice('imlab_sid='.length);
    expect((await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token: verifyToken } })).status).toBe(400);
    expect((await resolve(sid)).status).toBe(200);
  });
});

describe('single-use links under real concurrency', () => {
  it('ten simultaneous uses of one reset link: exactly one wins', async () => {
    await signedInUser(t, 'race-reset@example.com');
    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'race-reset@example.com' } });
    const token = await lastLinkToken(t, 'race-reset@example.com', 'password-reset');
    const answers = await Promise.all(
      Array.from({ length: 10 }, (_, i) => call(t.url, 'POST', '/v1/auth/password/reset', { body: { token, password: `concurrent passphrase ${i}` } })),
    );
    const winners = answers.map((a, i) => [a.status, i] as const).filter(([status]) => status === 204);
    expect(winners).toHaveLength(1);
    expect(answers.filter((a) => a.status === 400)).toHaveLength(9);
    const winner = winners[0]![1];
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'race-reset@example.com', password: `concurrent passphrase ${winner}` } })).status).toBe(200);
  });

  it('five simultaneous uses of one verification link: one success, one bonus', async () => {
    const ip = ipHash();
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'race-verify@example.com', password: PASSWORD }, headers: { 'x-imlab-ip-hash': ip } });
    const token = await lastLinkToken(t, 'race-verify@example.com', 'verify-email');
    const answers = await Promise.all(Array.from({ length: 5 }, () => call(t.url, 'POST', '/v1/auth/verify-email', { body: { token } })));
    expect(answers.map((a) => a.status).sort()).toEqual([200, 400, 400, 400, 400]);
    const user = await t.ctx.db.selectFrom('users').select('id').where('email', '=', 'race-verify@example.com').executeTakeFirstOrThrow();
    const grants = await t.ctx.db.selectFrom('outbox').select('payload').where('name', '=', 'ledger.grant').execute();
    expect(grants.filter((g) => (g.payload as { userId: string }).userId === user.id)).toHaveLength(1);
  });
});

describe('session attacks', () => {
  it('a session past its absolute lifetime is over, however recently it was used', async () => {
    const { sid } = await signedInUser(t, 'absolute@example.com');
    await resolve(sid); // cached
    await sql`update sessions set expires_at = now() - interval '1 second' where user_id = (select id from users where email = 'absolute@example.com')`.execute(t.ctx.db);
    const keys = await t.ctx.bus.redis.keys(`${t.config.QUEUE_PREFIX}auth:session:*`);
    if (keys.length) await t.ctx.bus.redis.del(...keys);
    expect((await resolve(sid)).status).toBe(401);
  });

  it('a tampered or made-up cookie resolves to nothing', async () => {
    const { sid } = await signedInUser(t, 'tamper@example.com');
    const flipped = sid.slice(0, -1) + (sid.endsWith('A') ? 'B' : 'A');
    for (const token of [flipped, sid + 'x', sid.slice(1), '', 'a'.repeat(43)]) {
      const r = await resolve(token);
      expect(r.status, token).toBe(401);
    }
  });

  it('login never adopts a session id the browser brought (fixation), and ends the old one', async () => {
    const attacker = await signedInUser(t, 'fixer@example.com');
    await signedInUser(t, 'victim@example.com');
    const planted = 'P'.repeat(43);
    for (const cookie of [planted, attacker.sid]) {
      const l = await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'victim@example.com', password: PASSWORD }, cookies: { imlab_sid: cookie } });
      expect(l.status).toBe(200);
      expect(l.cookies.imlab_sid).not.toBe(cookie);
      const r = await resolve(l.cookies.imlab_sid!);
      expect(r.body.userId).toBe(l.body.id);
      expect((await resolve(cookie)).status).toBe(401);
    }
  });

  it("A's internal token cannot end B's sessions", async () => {
    const a = await signedInUser(t, 'a-sessions@example.com');
    const b = await signedInUser(t, 'b-sessions@example.com');
    const bSessionId = (await resolve(b.sid)).body.sessionId;
    const r = await call(t.url, 'DELETE', `/v1/me/sessions/${bSessionId}`, { headers: await bearer(t, a.sid) });
    expect(r.status).toBe(404);
    expect((await resolve(b.sid)).status).toBe(200);
  });

  it('an internal token minted for another service does not open auth', async () => {
    const { sid } = await signedInUser(t, 'aud@example.com');
    const r = await call(t.url, 'GET', '/v1/me', { headers: await bearer(t, sid, 'generation') });
    expect(r.status).toBe(401);
  });
});

describe('abuse limits', () => {
  it('caps sign-ups per IP hash per day, for taken and free addresses alike', async () => {
    const ip = ipHash();
    const answers: number[] = [];
    for (const email of ['cap1@example.com', 'known@example.com', 'cap2@example.com', 'cap3@example.com']) {
      answers.push((await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD }, headers: { 'x-imlab-ip-hash': ip } })).status);
    }
    expect(answers).toEqual([202, 202, 202, 429]);
    expect(await t.ctx.db.selectFrom('users').select('id').where('email', '=', 'cap3@example.com').execute()).toEqual([]);
  });

  it('grants one bonus when accounts from one IP hash verify at the same moment', async () => {
    const ip = ipHash();
    const emails = ['burst1@example.com', 'burst2@example.com', 'burst3@example.com'];
    for (const email of emails) await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD }, headers: { 'x-imlab-ip-hash': ip } });
    const tokens = await Promise.all(emails.map((e) => lastLinkToken(t, e, 'verify-email')));
    const answers = await Promise.all(tokens.map((token) => call(t.url, 'POST', '/v1/auth/verify-email', { body: { token } })));
    expect(answers.map((a) => a.status)).toEqual([200, 200, 200]);
    const ids = (await t.ctx.db.selectFrom('users').select('id').where('email', 'in', emails).execute()).map((r) => r.id);
    const grants = (await t.ctx.db.selectFrom('outbox').select('payload').where('name', '=', 'ledger.grant').execute()).filter((g) => ids.includes((g.payload as { userId: string }).userId));
    expect(grants).toHaveLength(1);
  });

  it('grants the sign-up bonus once per IP hash within the window, and only after verification', async () => {
    const ip = ipHash();
    for (const email of ['bonus1@example.com', 'bonus2@example.com']) {
      await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: PASSWORD }, headers: { 'x-imlab-ip-hash': ip } });
    }
    const grantsFor = async (ids: string[]) =>
      (await t.ctx.db.selectFrom('outbox').select('payload').where('name', '=', 'ledger.grant').execute()).map((r) => (r.payload as { userId: string }).userId).filter((u) => ids.includes(u));
    await settle(t);
    const users = await t.ctx.db.selectFrom('users').select(['id', 'email']).where('email', 'in', ['bonus1@example.com', 'bonus2@example.com']).execute();
    const idOf = (email: string) => users.find((u) => u.email === email)!.id;
    expect(await grantsFor([idOf('bonus1@example.com'), idOf('bonus2@example.com')])).toEqual([]); // nothing before verification
    for (const email of ['bonus1@example.com', 'bonus2@example.com']) {
      await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token: await lastLinkToken(t, email, 'verify-email') } });
    }
    expect(await grantsFor([idOf('bonus1@example.com'), idOf('bonus2@example.com')])).toEqual([idOf('bonus1@example.com')]);
  });
});

describe('privacy of what auth keeps', () => {
  it('keeps no raw IP, user agent, cookie, token or password in its tables, Redis or logs', async () => {
    const marker = { ua: 'Mozilla/5.0 (UA-MARKER-7731)', ip: '203.0.113.77' };
    const headers = { 'user-agent': marker.ua, 'x-forwarded-for': marker.ip, 'x-real-ip': marker.ip, 'x-imlab-device': 'Firefox on Linux' };
    const { sid } = await signedInUser(t, 'private@example.com', 'a very private passphrase', headers);
    const auth = await bearer(t, sid);
    await call(t.url, 'GET', '/v1/me', { headers: { ...auth, ...headers } });
    await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'private@example.com', password: 'wrong wrong wrong' }, headers });

    const dump = await sql<{ t: string }>`
      select coalesce(string_agg(x::text, E'\n'), '') as t from (
        select row_to_json(u)::text as x from users u union all select row_to_json(s)::text from sessions s
        union all select row_to_json(e)::text from email_tokens e union all select row_to_json(o)::text from outbox o
        union all select row_to_json(i)::text from identities i union all select row_to_json(b)::text from signup_bonus_claims b) all_rows`.execute(t.ctx.db);
    const redisDump = (await Promise.all((await t.ctx.bus.redis.keys(`${t.config.QUEUE_PREFIX}auth:*`)).map(async (k) => `${k} ${JSON.stringify((await t.ctx.bus.redis.type(k)) === 'string' ? await t.ctx.bus.redis.get(k) : await t.ctx.bus.redis.hgetall(k))}`))).join('\n');
    for (const [where, text] of [
      ['tables', dump.rows[0]!.t],
      ['redis', redisDump],
      ['logs', t.logs.text()],
    ] as const) {
      expect(text.length, where).toBeGreaterThan(0);
      expect(text, where).not.toContain('UA-MARKER-7731');
      expect(text, where).not.toContain(marker.ip);
      expect(text, where).not.toContain(sid);
      expect(text, where).not.toContain('a very private passphrase');
      expect(text, where).not.toContain(auth.authorization!.slice(7));
    }
  });
});
