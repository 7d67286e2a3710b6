// Account settings through the gateway: password, email address, and keeping an account that
// was scheduled for deletion — with everything it had coming back.
import { describe, expect, it } from 'vitest';
import { ok } from '@imlab/client';
import { eventually } from '@imlab/testing';
import { CLIENT_IPS, PASSWORD, generate, mailText, signUpVerified, until, type Browser } from './browser.js';
import { queryDb, type E2E, type System } from './system.js';

const EMAIL = 'settings-person@example.com';
/** The same person's other devices (each address has its own strict sign-in budget). */
const OTHER_DEVICE = '127.0.0.87';
const PHONE = '127.0.0.88';
const NEW_EMAIL = 'settings-person.moved@example.com';

/** The `name=` token of the newest `template` mail to `to`. */
const linkParam = (e2e: E2E, to: string, template: string, name: string) =>
  until(async () => new RegExp(`[?&]${name}=([A-Za-z0-9_-]+)`).exec(mailText(e2e.sys, to, template) ?? '')?.[1], 20_000);

/**
 * The system under test purges 4 s after a deletion (the privacy suite needs it soon); this
 * person's grace period is set to the hour a real one would leave, right after asking.
 */
async function lengthenGracePeriod(sys: System, email: string): Promise<void> {
  const updated = await queryDb(sys, 'auth', "update users set purge_after = now() + interval '1 hour' where email = $1 and status = 'deleted' returning id", [email]);
  expect(updated).toHaveLength(1);
}

export function settingsSuite(e2e: E2E): void {
  describe('account settings through the gateway', () => {
    let person: Browser;
    let imageId: string;

    it('changing the password ends the other sessions at the gateway at once; this one goes on', async () => {
      person = e2e.browser(CLIENT_IPS.settings);
      await signUpVerified(e2e.sys, person, EMAIL);
      const generation = await generate(person, 'a paper boat on a still pond');
      imageId = generation.images[0]!.id;
      expect((await person.api.POST('/v1/images/{id}/publish', { params: { path: { id: imageId } } })).response.status).toBeLessThan(300);

      const laptop = e2e.browser(OTHER_DEVICE);
      expect((await laptop.api.POST('/v1/auth/login', { body: { email: EMAIL, password: PASSWORD } })).response.status).toBe(200);
      const wrong = await person.api.PUT('/v1/me/password', { body: { currentPassword: 'not my password', newPassword: 'a brand new workshop 7' } });
      expect(wrong.response.status).toBe(403);
      expect((await laptop.api.GET('/v1/me')).response.status).toBe(200);

      expect((await person.api.PUT('/v1/me/password', { body: { currentPassword: PASSWORD, newPassword: 'a brand new workshop 7' } })).response.status).toBe(204);
      expect((await laptop.api.GET('/v1/me')).response.status).toBe(401);
      expect((await person.api.GET('/v1/me')).response.status).toBe(200);
      await eventually(() => expect(mailText(e2e.sys, EMAIL, 'password-changed')).toBeDefined(), 20_000);
    }, 90_000);

    it('a request from another site cannot change the password (CSRF)', async () => {
      const res = await person.fetch(`${e2e.sys.gatewayUrl}/v1/me/password`, {
        method: 'PUT',
        headers: { 'content-type': 'application/json', origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' },
        body: JSON.stringify({ currentPassword: 'a brand new workshop 7', newPassword: 'attacker chose this 1' }),
      });
      expect(res.status).toBe(403);
      expect((await person.api.POST('/v1/auth/login', { body: { email: EMAIL, password: 'a brand new workshop 7' } })).response.status).toBe(200);
    });

    it('changing the email address: the new inbox confirms, the old one is told', async () => {
      expect((await person.api.POST('/v1/me/email', { body: { newEmail: NEW_EMAIL, currentPassword: 'a brand new workshop 7' } })).response.status).toBe(202);
      const confirm = await linkParam(e2e, NEW_EMAIL, 'email-change-confirm', 'confirm');
      const anyone = e2e.browser(OTHER_DEVICE);
      const confirmed = await anyone.api.POST('/v1/auth/email/confirm', { body: { token: confirm } });
      expect(confirmed.response.status).toBe(200);
      expect((await ok(person.api.GET('/v1/me'))).email).toBe(NEW_EMAIL);
      await eventually(() => expect(mailText(e2e.sys, EMAIL, 'email-changed')).toContain('s•••@example.com'), 20_000);
    }, 60_000);

    it('deleting and then keeping the account during the grace period restores everything', async () => {
      const balance = await ok(person.api.GET('/v1/credits/balance'));
      const anonymous = e2e.browser(OTHER_DEVICE);
      const inGallery = async () => JSON.stringify((await ok(anonymous.api.GET('/v1/gallery'))).items).includes(imageId);
      expect(await inGallery()).toBe(true);

      expect((await person.api.DELETE('/v1/me', { body: { password: 'a brand new workshop 7' } })).response.status).toBe(202);
      await lengthenGracePeriod(e2e.sys, NEW_EMAIL);
      expect((await person.api.GET('/v1/me')).response.status).toBe(401);
      await until(async () => ((await inGallery()) ? undefined : true), 20_000);

      // they change their mind, on their phone
      const phone = e2e.browser(PHONE);
      const signIn = await phone.call('POST', '/v1/auth/login', { email: NEW_EMAIL, password: 'a brand new workshop 7' });
      expect(signIn.status).toBe(403);
      expect(signIn.body.code).toBe('AUTH_DELETION_SCHEDULED');
      expect((await phone.api.GET('/v1/me')).response.status).toBe(401);
      const kept = await phone.api.POST('/v1/auth/account/restore', { body: { token: signIn.body.restoreToken } });
      expect(kept.response.status).toBe(200);
      expect(kept.data!.email).toBe(NEW_EMAIL);
      person = phone;

      expect((await person.api.GET('/v1/me')).response.status).toBe(200);
      await until(async () => ((await inGallery()) ? true : undefined), 20_000);
      expect(await ok(person.api.GET('/v1/credits/balance'))).toMatchObject({ available: balance.available });
      const library = await ok(person.api.GET('/v1/generations'));
      expect(JSON.stringify(library)).toContain(imageId);
      await eventually(() => expect(mailText(e2e.sys, NEW_EMAIL, 'account-deletion-cancelled')).toBeDefined(), 20_000);
    }, 90_000);
  });
}
