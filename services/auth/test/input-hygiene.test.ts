import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, call, ipHash, lastLinkToken, settle, signedInUser, startAuth, type TestAuth } from './helpers.js';

let t: TestAuth;
beforeAll(async () => {
  t = await startAuth('auth_input_hygiene');
});
afterAll(async () => t?.close());

describe('passphrases', () => {
  it('accepts a 256-character passphrase, and signs in with it', async () => {
    const words = 'correct horse battery staple ';
    const password = words.repeat(Math.ceil(256 / words.length)).slice(0, 256);
    expect([...password]).toHaveLength(256);
    const s = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'long@example.com', password }, headers: { 'x-imlab-ip-hash': ipHash() } });
    expect(s.status).toBe(202);
    expect((await call(t.url, 'POST', '/v1/auth/verify-email', { body: { token: await lastLinkToken(t, 'long@example.com', 'verify-email') } })).status).toBe(200);
    expect((await call(t.url, 'POST', '/v1/auth/login', { body: { email: 'long@example.com', password } })).status).toBe(200);
  });
});

describe('display names', () => {
  const tricky = 'A\u202Eevil\u202C\u200Bna\u200Dme\u2066x\u2069\uFEFF\u200E\u2060';
  it('are stripped of bidi controls and zero-width characters on sign-up and on change', async () => {
    const s = await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'bidi@example.com', password: 'correct horse battery staple', displayName: tricky }, headers: { 'x-imlab-ip-hash': ipHash() } });
    expect(s.status).toBe(202);
    await settle(t);
    const row = await t.ctx.db.selectFrom('users').select('display_name').where('email', '=', 'bidi@example.com').executeTakeFirstOrThrow();
    expect(row.display_name).toBe('Aevilnamex');

    const { sid } = await signedInUser(t, 'bidi2@example.com');
    const r = await call(t.url, 'PATCH', '/v1/me', { body: { displayName: `  ${tricky}  ` }, headers: await bearer(t, sid) });
    expect(r.status).toBe(200);
    expect(r.body.displayName).toBe('Aevilnamex');
    // nothing but invisible characters: no name
    const blank = await call(t.url, 'PATCH', '/v1/me', { body: { displayName: '\u200B\u202E\u200B' }, headers: await bearer(t, sid) });
    expect(blank.body.displayName).toBe('');
  });
});

describe('display names and the content policy', () => {
  it('refuses a sign-up whose display name breaks a rule (422 naming it, in the person\'s language) and creates nothing', async () => {
    for (const [displayName, rule] of [
      ['n1gg3r', 'hate-speech'],
      ['Ｒ Ａ Ｐ Ｉ Ｓ Ｔ', 'sexual-violence'],
      ['強姦犯', 'sexual-violence'],
    ] as const) {
      const email = `refused-${rule}-${displayName.length}@example.com`;
      const s = await call(t.url, 'POST', '/v1/auth/signup', { body: { email, password: 'correct horse battery staple', displayName }, headers: { 'x-imlab-ip-hash': ipHash(), 'accept-language': 'zh-CN' } });
      expect(s.status, displayName).toBe(422);
      expect(s.headers.get('content-type')).toContain('application/problem+json');
      expect(s.body).toMatchObject({ code: 'AUTH_DISPLAY_NAME_POLICY', rule, field: 'displayName' });
      expect(s.body.detail).toMatch(/^该显示名称违反内容政策：/);
      expect(JSON.stringify(s.body)).not.toContain(displayName);
      await settle(t);
      expect(await t.ctx.db.selectFrom('users').select('id').where('email', '=', email).executeTakeFirst()).toBeUndefined();
    }
  });

  it('refuses such a name on PATCH /v1/me and keeps the old one; harmless look-alikes pass', async () => {
    const { sid } = await signedInUser(t, 'rename@example.com');
    const headers = await bearer(t, sid);
    expect((await call(t.url, 'PATCH', '/v1/me', { body: { displayName: 'Mei' }, headers })).body.displayName).toBe('Mei');
    const refused = await call(t.url, 'PATCH', '/v1/me', { body: { displayName: 'nu\u200Bde pics', locale: 'zh' }, headers });
    expect(refused.status).toBe(422);
    expect(refused.body).toMatchObject({ code: 'AUTH_DISPLAY_NAME_POLICY', rule: 'sexual-explicit', ruleDescription: { en: 'nudity or sexually explicit content', zh: '裸露或露骨的色情内容' } });
    expect(refused.body.detail).toBe('This display name breaks the content policy: nudity or sexually explicit content.');
    const me = await call(t.url, 'GET', '/v1/me', { headers });
    // Nothing changed: neither the name nor the locale sent with it.
    expect(me.body).toMatchObject({ displayName: 'Mei', locale: 'en' });
    for (const name of ['Scunthorpe Sam', 'Cocktail Queen', 'The Therapist', '刺客信条']) {
      const ok = await call(t.url, 'PATCH', '/v1/me', { body: { displayName: name }, headers });
      expect(ok.status, name).toBe(200);
      expect(ok.body.displayName).toBe(name);
    }
  });
});
