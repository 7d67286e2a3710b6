import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bearer, call, ipHash, sentEmails, settle, signedInUser, startAuth, type TestAuth } from './helpers.js';

let t: TestAuth;
beforeAll(async () => {
  t = await startAuth('auth_mail_limits', { LINK_EMAILS_PER_ADDRESS_PER_DAY: '3', VERIFY_RESEND_COOLDOWN: '1' });
});
afterAll(async () => {
  await t?.close();
});

const SPOOF = 'Your card was charged $499 - call +1 800 555 0100';

describe('mail sent to an address on request of whoever asks', () => {
  it('puts no sign-up-chosen name in mail to an address its owner has not confirmed', async () => {
    await call(t.url, 'POST', '/v1/auth/signup', { body: { email: 'victim@example.com', password: 'attacker passphrase', displayName: SPOOF }, headers: { 'x-imlab-ip-hash': ipHash() } });
    const [mail] = await sentEmails(t, 'victim@example.com');
    expect(mail!.template).toBe('verify-email');
    expect(mail!.data.displayName).toBeUndefined();
    expect(JSON.stringify(mail)).not.toContain('charged');
  });

  it('sends one address at most the daily number of link mails, however often it is asked for', async () => {
    for (let i = 0; i < 5; i++) {
      await new Promise((r) => setTimeout(r, 1100)); // past the per-address cooldown each time
      expect((await call(t.url, 'POST', '/v1/auth/verify-email/resend', { body: { email: 'victim@example.com' } })).status).toBe(202);
      await settle(t);
    }
    expect((await sentEmails(t, 'victim@example.com')).filter((m) => m.template === 'verify-email')).toHaveLength(3);
  });

  it('counts reset mails per requester: someone exhausting theirs cannot stop the owner getting one', async () => {
    await signedInUser(t, 'resetter@example.com');
    const attacker = ipHash();
    for (let i = 0; i < 4; i++) {
      await new Promise((r) => setTimeout(r, 1100));
      await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'resetter@example.com' }, headers: { 'x-imlab-ip-hash': attacker } });
      await settle(t);
    }
    const resets = async () => (await sentEmails(t, 'resetter@example.com')).filter((m) => m.template === 'password-reset').length;
    expect(await resets()).toBe(3);
    await new Promise((r) => setTimeout(r, 1100));
    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'resetter@example.com' }, headers: { 'x-imlab-ip-hash': ipHash() } });
    await settle(t);
    expect(await resets()).toBe(4);
  });

  it('every counter it keeps in Redis (link mails per address, sign-ups per network) expires, so none outlives its window', async () => {
    const redis = t.ctx.bus.redis;
    const counters = [...(await redis.keys(`${t.config.QUEUE_PREFIX}auth:link-mails:*`)), ...(await redis.keys(`${t.config.QUEUE_PREFIX}auth:signups:*`))];
    expect(counters.length).toBeGreaterThan(0); // the tests above counted both kinds
    for (const key of counters) {
      const ttl = await redis.ttl(key);
      expect(ttl, key).toBeGreaterThan(0);
      expect(ttl, key).toBeLessThanOrEqual(2 * 86400);
    }
  });

  it('greets a confirmed person by the name they set, and without one when they set none', async () => {
    const { sid } = await signedInUser(t, 'named@example.com');
    await call(t.url, 'PATCH', '/v1/me', { body: { displayName: 'Named Person' }, headers: await bearer(t, sid) });
    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'named@example.com' } });
    const reset = (await sentEmails(t, 'named@example.com')).find((m) => m.template === 'password-reset');
    expect(reset?.data.displayName).toBe('Named Person');
    await signedInUser(t, 'nameless@example.com');
    await call(t.url, 'POST', '/v1/auth/password/forgot', { body: { email: 'nameless@example.com' } });
    const plain = (await sentEmails(t, 'nameless@example.com')).find((m) => m.template === 'password-reset');
    expect(plain).toBeDefined();
    expect(plain?.data.displayName ?? '').toBe('');
  });
});
