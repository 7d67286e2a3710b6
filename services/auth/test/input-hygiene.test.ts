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
