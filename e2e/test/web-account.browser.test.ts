// Account settings, the account's language, finance and ops in a real browser against the real
// system: what the person sees, and what the API then says (GET /v1/me, the sessions, the export's
// zip, the ledger's CSV). Key screens in English and Chinese at 375 and 1280 px via screen().
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { strFromU8, unzipSync } from 'fflate';
import type { Locator, Page } from 'playwright-core';
import { download as apiDownload, ok } from '@imlab/client';
import { PASSWORD, mailText, until, type Browser } from './browser.js';
import { monthName } from '../../web/src/i18n/dates.js';
import { at, LOCALES, newContext as openContext, root, screen, startWebSystem, texts, visit as open, WIDTHS, type ContextOptions, type Locale, type PageElement, type WebSystem } from './web.js';
import { TS_NODE_ARGS } from '@imlab/testing';

declare const document: { documentElement: { scrollWidth: number; clientWidth: number }; activeElement: PageElement | null };

let web: WebSystem;

beforeAll(async () => {
  web = await startWebSystem('web-account');
}, 900_000);

afterAll(async () => {
  await web?.stop();
});

const newContext = (opts: ContextOptions) => openContext(web, opts);
const visit = (page: Page, p: string) => open(page, web.sys.gatewayUrl, p);
const settingsTexts = (locale: Locale) => texts(locale, 'settings');
const financeTexts = (locale: Locale) => texts(locale, 'finance');

/** The roles CLI of auth, as an operator runs it; a new sign-in then carries the roles. */
async function grantRoles(email: string, roles: string[]): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(process.execPath, [...TS_NODE_ARGS, 'services/auth/src/cli/roles.ts', email, ...roles], {
      cwd: root,
      env: { ...web.sys.env, DATABASE_NAME: web.sys.databases.auth! },
      stdio: 'ignore',
    });
    child.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`roles CLI exited ${code}`))));
  });
}

async function signedUpWithRoles(ip: string, email: string, roles: string[]): Promise<Browser> {
  const person = await web.signedUp(ip, email);
  await grantRoles(email, roles);
  expect((await person.api.POST('/v1/auth/login', { body: { email, password: PASSWORD } })).response.status).toBe(200);
  expect((await ok(person.api.GET('/v1/me'))).roles).toEqual(expect.arrayContaining(roles));
  return person;
}

/** How far a scrolling region's content is wider than the region (0 or less: it all shows). */
const sidewaysOverflow = (region: Locator) => region.evaluate((el: PageElement & { scrollWidth: number; clientWidth: number }) => el.scrollWidth - el.clientWidth);
/** The email-change page's "from → to" list, as [term, value] pairs in order. */
async function changeFacts(page: Page): Promise<string[][]> {
  await page.locator('dl.email-change-facts').waitFor();
  const cells = (await page.locator('dl.email-change-facts > dt, dl.email-change-facts > dd').allInnerTexts()).map((x) => x.trim());
  return cells.flatMap((_, i) => (i % 2 === 0 ? [[cells[i]!, cells[i + 1]!]] : []));
}
/** Chooses a month (`YYYY-MM`) in the month-end's month field: its year, then its month. */
async function chooseMonth(page: Page, f: ReturnType<typeof financeTexts>, month: string): Promise<void> {
  const field = page.getByRole('group', { name: at(f, 'monthEnd.month'), exact: true });
  await field.getByLabel(at(f, 'monthEnd.year'), { exact: true }).selectOption(month.slice(0, 4));
  await field.getByLabel(at(f, 'monthEnd.monthOfYear'), { exact: true }).selectOption(month.slice(5));
}
const focusedText = (page: Page) => page.evaluate(() => (document.activeElement as PageElement).innerText.trim());

describe('settings, signed out', () => {
  it('/settings and /settings/security show the heading and a sign-in link that comes back here', async () => {
    for (const locale of LOCALES) {
      const { context, page, watch } = await newContext({ width: 375, locale });
      try {
        const s = settingsTexts(locale);
        await visit(page, '/settings/security');
        expect((await page.locator('main h1').innerText()).trim()).toBe(at(s, 'title'));
        await page.getByText(at(s, 'signedOut.text')).waitFor();
        expect(await page.locator('main').getByRole('link', { name: at(s, 'signedOut.signIn') }).getAttribute('href')).toBe('/sign-in?returnTo=%2Fsettings%2Fsecurity');
        await screen(page, 'settings-signed-out', { locale, width: 375 });
        expect(watch.problems).toEqual([]);
      } finally {
        await context.close();
      }
    }
  }, 120_000);
});

describe('profile and language', () => {
  it('changes the display name and the language: the page switches, GET /v1/me and the locale cookie say so; the header switch saves the language too', async () => {
    const person = await web.signedUp('127.0.0.140', 'acct-profile@example.test');
    const { context, page, watch } = await newContext({ width: 1280, locale: 'en', as: person });
    try {
      const en = settingsTexts('en');
      const zh = settingsTexts('zh');
      await visit(page, '/settings');
      const name = page.getByLabel(at(en, 'profile.displayName'));
      await name.waitFor();
      expect(await name.inputValue()).toBe((await ok(person.api.GET('/v1/me'))).displayName);
      // /settings is the profile section, marked as the current one
      expect((await page.locator('.settings-nav a[aria-current=page]').innerText()).trim()).toBe(at(en, 'sections.profile'));
      await screen(page, 'settings-profile', { locale: 'en', width: 1280 });

      await name.fill('Harbour Lin');
      await page.getByLabel(at(en, 'profile.language')).selectOption('zh');
      await page.getByRole('button', { name: at(en, 'profile.save') }).click();
      // the page is now in Chinese, and says it saved
      await page.locator('main h1', { hasText: at(zh, 'title') }).waitFor();
      await page.getByText(at(zh, 'profile.saved')).waitFor();
      expect(await page.getAttribute('html', 'lang')).toBe('zh-Hans');
      expect((await context.cookies()).find((c) => c.name === 'locale')?.value).toBe('zh');
      const me = await ok(person.api.GET('/v1/me'));
      expect(me).toMatchObject({ displayName: 'Harbour Lin', locale: 'zh' });
      await screen(page, 'settings-profile-saved', { locale: 'zh', width: 1280 });

      // the header's switch: the page and the account follow
      await page.getByRole('button', { name: 'English' }).click();
      await page.locator('main h1', { hasText: at(en, 'title') }).waitFor();
      await until(async () => ((await ok(person.api.GET('/v1/me'))).locale === 'en' ? true : undefined), 10_000);
      expect((await context.cookies()).find((c) => c.name === 'locale')?.value).toBe('en');
      expect(watch.problems).toEqual([]);
    } finally {
      await context.close();
    }
    // a phone, in Chinese: the same form fits
    const phone = await newContext({ width: 375, locale: 'zh', as: person });
    try {
      await visit(phone.page, '/settings/profile');
      await phone.page.getByLabel(at(settingsTexts('zh'), 'profile.displayName')).waitFor();
      await screen(phone.page, 'settings-profile', { locale: 'zh', width: 375 });
      // A name the content policy forbids (full-width, dotted) is refused at the field, naming the
      // rule in the page's language (the account's is English by now); the old name stays.
      const zh = settingsTexts('zh');
      const name = phone.page.getByLabel(at(zh, 'profile.displayName'));
      await name.fill('Ｎ.Ｕ.Ｄ.Ｅ');
      await phone.page.getByRole('button', { name: at(zh, 'profile.save') }).click();
      const error = phone.page.locator('#displayName-error');
      await error.waitFor();
      expect(await error.innerText()).toBe('该显示名称违反内容政策：裸露或露骨的色情内容。');
      await until(async () => ((await phone.page.evaluate(() => document.activeElement?.id)) === 'displayName' ? true : undefined));
      expect(await name.getAttribute('aria-invalid')).toBe('true');
      await screen(phone.page, 'settings-profile-policy', { locale: 'zh', width: 375 });
      expect((await ok(person.api.GET('/v1/me'))).displayName).toBe('Harbour Lin');
      expect(phone.watch.problems).toEqual([]);
    } finally {
      await phone.context.close();
    }
    // Signing in on a browser showing Chinese: the page takes the account's language (English), as
    // the sign-in's cookie says, without a reload.
    const elsewhere = await newContext({ width: 375, locale: 'zh' });
    try {
      const auth = { en: texts('en', 'auth'), zh: texts('zh', 'auth') };
      await visit(elsewhere.page, '/sign-in');
      await elsewhere.page.getByLabel(at(auth.zh, 'fields.email')).fill('acct-profile@example.test');
      await elsewhere.page.getByLabel(at(auth.zh, 'fields.password'), { exact: true }).fill(PASSWORD);
      await elsewhere.page.locator('main').getByRole('button', { name: at(auth.zh, 'signIn.submit'), exact: true }).click();
      await elsewhere.page.locator('.account-button').waitFor();
      await until(async () => ((await elsewhere.page.getAttribute('html', 'lang')) === 'en' ? true : undefined), 10_000);
      expect((await elsewhere.context.cookies()).find((c) => c.name === 'locale')?.value).toBe('en');
      expect(elsewhere.watch.problems).toEqual([]);
    } finally {
      await elsewhere.context.close();
    }
  }, 180_000);
});

describe('sessions', () => {
  it('a second session appears; revoking it ends it (its GET /v1/me is 401); sign out everywhere signs this browser out too', async () => {
    const email = 'acct-sessions@example.test';
    const person = await web.signedUp('127.0.0.141', email);
    // the same person signs in elsewhere, through the API, as Firefox on a Mac
    const other = web.person('127.0.0.142');
    const firefox = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.5; rv:128.0) Gecko/20100101 Firefox/128.0';
    expect((await other.api.POST('/v1/auth/login', { body: { email, password: PASSWORD }, headers: { 'user-agent': firefox } })).response.status).toBe(200);
    const otherId = (await ok(other.api.GET('/v1/me/sessions'))).items.find((s) => s.current)!.id;

    for (const [locale, width] of [['zh', 375], ['en', 1280]] as const) {
      const { context, page, watch } = await newContext({ width, locale, as: person });
      try {
        const s = settingsTexts(locale);
        await visit(page, '/settings/security');
        await page.locator('.session').first().waitFor();
        const sessions = await ok(person.api.GET('/v1/me/sessions'));
        expect(await page.locator('.session').count()).toBe(sessions.items.length);
        await page.locator('.session', { hasText: at(s, 'security.current') }).waitFor();
        await screen(page, 'settings-security', { locale, width });
        if (locale === 'zh') {
          expect(sessions.items.map((i) => i.id)).toContain(otherId);
          // the other session's button (the current one has none)
          const revoke = page.locator('.session').filter({ hasNot: page.locator('.session-current') }).getByRole('button', { name: at(s, 'security.revoke') });
          expect(await revoke.count()).toBe(sessions.items.length - 1);
          // the devices are named in the page's language, from the parts the API gives (its label is English: "Chrome on Linux")
          const named = (d: { browser: string | null; os: string | null }) =>
            d.browser && d.os ? at(s, 'security.device.on', { browser: d.browser, os: d.os })
            : d.browser ? d.browser
            : d.os ? at(s, 'security.device.browserOn', { os: d.os })
            : at(s, 'security.device.unknown');
          expect(sessions.items.find((i) => i.id === otherId)).toMatchObject({ browser: 'Firefox', os: 'macOS' });
          const shown = (await page.locator('.session-device').allInnerTexts()).map((name) => name.replace(at(s, 'security.current'), '').trim());
          expect(shown).toEqual(sessions.items.map(named));
          for (const name of shown) expect(name).not.toMatch(/ on |Unknown device|^Browser/);
          const otherName = (await page.locator('.session').filter({ hasNot: page.locator('.session-current') }).first().locator('.session-device').innerText()).trim();
          await revoke.first().click();
          await page.locator('.status-line', { hasText: at(s, 'security.revoked', { device: otherName }) }).waitFor();
          expect(await page.evaluate(() => document.activeElement?.className)).toBe('status-line');
          await until(async () => ((await other.call('GET', '/v1/me')).status === 401 ? true : undefined), 10_000);
          await until(async () => ((await page.locator('.session').count()) === sessions.items.length - 1 ? true : undefined), 10_000);
          expect((await ok(person.api.GET('/v1/me/sessions'))).items.map((i) => i.id)).not.toContain(otherId);
        } else {
          // sign out everywhere, through its confirmation dialog
          await page.getByRole('button', { name: at(s, 'security.everywhere') }).click();
          const dialog = page.getByRole('dialog', { name: at(s, 'security.everywhereConfirmTitle') });
          // an account with a password and no Google: the password is the way back in, Google is not mentioned
          await dialog.getByText(at(s, 'security.everywhereConfirmText'), { exact: true }).waitFor();
          await dialog.waitFor();
          expect(await focusedText(page)).toBe(at(s, 'cancel'));
          await screen(page, 'settings-sign-out-everywhere-dialog', { locale, width });
          await dialog.getByRole('button', { name: at(s, 'security.everywhere') }).click();
          await page.getByText(at(s, 'ended.everywhere')).waitFor();
          await page.locator('.sign-in').waitFor();
          expect(await focusedText(page)).toBe(at(s, 'ended.everywhere'));
          await screen(page, 'settings-signed-out-everywhere', { locale, width });
          expect((await person.call('GET', '/v1/me')).status).toBe(401);
        }
        expect(watch.problems).toEqual([]);
      } finally {
        await context.close();
      }
    }
  }, 180_000);
});

describe('credit history', () => {
  it('shows the sign-up bonus line in words, as the API words it, with a signed amount (en and zh, 375 and 1280 px)', async () => {
    const person = await web.signedUp('127.0.0.143', 'acct-credits@example.test');
    await until(async () => ((await ok(person.api.GET('/v1/credits/balance'))).available === 40 ? true : undefined), 20_000);
    for (const locale of LOCALES) {
      person.cookies.set('locale', locale);
      const lines = (await ok(person.api.GET('/v1/credits/transactions'))).items;
      expect(lines).toEqual([expect.objectContaining({ kind: 'bonus', amount: 40 })]);
      expect(lines[0]!.description).toBe(locale === 'en' ? 'Sign-up bonus — 40 credits' : '注册奖励 — 40 积分');
      for (const width of WIDTHS) {
        const { context, page, watch } = await newContext({ width, locale, as: person });
        try {
          const s = settingsTexts(locale);
          await visit(page, '/settings/credits');
          const line = page.locator('.credit-line').first();
          await line.waitFor();
          expect(await page.locator('.credit-line').count()).toBe(1);
          expect(await line.locator('.credit-description').innerText()).toBe(lines[0]!.description);
          expect(await line.locator('.credit-kind').innerText()).toBe(at(s, 'credits.kind.bonus'));
          expect(await line.locator('.credit-amount').innerText()).toBe('+40');
          await screen(page, 'settings-credits', { locale, width });
          expect(watch.problems).toEqual([]);
        } finally {
          await context.close();
        }
      }
    }
  }, 180_000);
});

describe('data export', () => {
  it('start → ready → download: the zip (PK…) holds the person’s profile', async () => {
    const email = 'acct-export@example.test';
    const person = await web.signedUp('127.0.0.144', email);
    const { context, page, watch } = await newContext({ width: 375, locale: 'zh', as: person });
    try {
      const s = settingsTexts('zh');
      await visit(page, '/settings/privacy');
      const started = page.waitForResponse((r) => r.url().endsWith('/v1/me/exports') && r.request().method() === 'POST');
      await page.getByRole('button', { name: at(s, 'privacy.exportStart') }).click();
      const { id } = (await (await started).json()) as { id: string };
      const downloadButton = page.getByRole('button', { name: at(s, 'privacy.exportDownload') });
      await downloadButton.waitFor({ timeout: 60_000 });
      expect(await focusedText(page)).toBe(at(s, 'privacy.exportDownload'));
      expect(await ok(person.api.GET('/v1/me/exports/{id}', { params: { path: { id } } }))).toMatchObject({ status: 'ready', downloadUrl: `/v1/me/exports/${id}/download` });
      await screen(page, 'settings-export-ready', { locale: 'zh', width: 375 });
      const [file] = await Promise.all([page.waitForEvent('download'), downloadButton.click()]);
      const bytes = await readFile((await file.path())!);
      expect(bytes.subarray(0, 2).toString()).toBe('PK');
      const zip = unzipSync(new Uint8Array(bytes));
      expect(Object.keys(zip)).toEqual(expect.arrayContaining(['README.txt', 'profile.json', 'credits.json']));
      expect(JSON.parse(strFromU8(zip['profile.json']!))).toMatchObject({ email });
      // coming back later in the same tab: the ready export is shown again
      await visit(page, '/settings/privacy');
      await page.getByRole('button', { name: at(s, 'privacy.exportDownload') }).waitFor();
      await page.getByText(at(s, 'privacy.exportReady').split('{{')[0]!).waitFor();
      expect(watch.problems).toEqual([]);
    } finally {
      await context.close();
    }
  }, 180_000);
});

describe('password, email address and Google', () => {
  const cases = [
    { locale: 'en', width: 1280, ip: '127.0.0.150', email: 'acct-methods-en@example.test', moved: 'acct-methods-en.moved@example.test' },
    { locale: 'zh', width: 375, ip: '127.0.0.151', email: 'acct-methods-zh@example.test', moved: 'acct-methods-zh.moved@example.test' },
  ] as const;
  it('changes the password (a wrong current one is refused in the person’s language; other devices are signed out), moves the account to a new address through the mailed link, and the old address can take it back', async () => {
    for (const { locale, width, ip, email, moved } of cases) {
      const person = await web.signedUp(ip, email);
      const laptop = web.person(ip);
      expect((await laptop.api.POST('/v1/auth/login', { body: { email, password: PASSWORD } })).response.status).toBe(200);
      const { context, page, watch } = await newContext({ width, locale, as: person });
      try {
        const s = settingsTexts(locale);
        const methods = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/methods');
        await visit(page, '/settings/security');
        const passwordForm = page.locator('section', { has: page.getByRole('heading', { name: at(s, 'security.password.title'), exact: true }) });
        await passwordForm.waitFor();
        // the wrong current password
        await passwordForm.getByLabel(at(s, 'security.password.current')).fill('not my password 42');
        await passwordForm.getByLabel(at(s, 'security.password.new')).fill('a brighter workshop 88');
        await passwordForm.getByRole('button', { name: at(s, 'security.password.submit') }).click();
        const refused = passwordForm.locator('[role=alert]');
        await refused.waitFor();
        expect(await refused.innerText()).toContain(locale === 'en' ? 'The password is incorrect.' : '密码不正确。');
        expect((await laptop.call('GET', '/v1/me')).status).toBe(200);
        // the right one
        await passwordForm.getByLabel(at(s, 'security.password.current')).fill(PASSWORD);
        await passwordForm.getByRole('button', { name: at(s, 'security.password.submit') }).click();
        await passwordForm.getByRole('status').filter({ hasText: at(s, 'security.password.changed') }).waitFor();
        expect(await focusedText(page)).toBe(at(s, 'security.password.changed'));
        await screen(page, 'settings-password-changed', { locale, width });
        expect((await laptop.call('GET', '/v1/me')).status).toBe(401);
        expect((await person.call('GET', '/v1/me')).status).toBe(200);

        // Google is not configured here: nothing to link, so no Google section is offered
        expect(await (await methods).json()).toEqual({ password: true, google: false });
        expect(await page.getByRole('heading', { name: at(s, 'security.google.title'), exact: true }).count()).toBe(0);

        // a new email address
        const emailForm = page.locator('section', { has: page.getByRole('heading', { name: at(s, 'security.email.title'), exact: true }) });
        await emailForm.getByText(at(s, 'security.email.current', { email })).waitFor();
        await emailForm.getByLabel(at(s, 'security.email.new')).fill(moved);
        await emailForm.getByLabel(at(s, 'security.password.current')).fill('a brighter workshop 88');
        await emailForm.getByRole('button', { name: at(s, 'security.email.submit') }).click();
        await emailForm.getByRole('status').filter({ hasText: at(s, 'security.email.sent', { email: moved }) }).waitFor();
        await screen(page, 'settings-email-sent', { locale, width });

        // the link in the new inbox opens the app; pressing the button moves the account
        const confirmLink = await until(async () => /https?:\/\/\S*\/email-change\?confirm=[A-Za-z0-9_-]+/.exec(mailText(web.sys, moved, 'email-change-confirm') ?? '')?.[0], 20_000);
        const masked = (address: string) => `${address[0]}•••${address.slice(address.indexOf('@'))}`;
        await page.goto(confirmLink);
        await page.getByRole('heading', { name: at(s, 'emailChange.title') }).waitFor();
        // before anything changes, the page says from which address to which
        // (nothing of the old address: the new inbox's mail showed none of it)
        expect(await changeFacts(page)).toEqual([[at(s, 'emailChange.new'), moved]]);
        await screen(page, 'email-change-confirm', { locale, width });
        expect((await ok(person.api.GET('/v1/me'))).email).toBe(email);
        await page.getByRole('button', { name: at(s, 'emailChange.confirm') }).click();
        await page.getByRole('status').filter({ hasText: at(s, 'emailChange.confirmed', { email: moved }) }).waitFor();
        expect((await page.locator('main h1').innerText()).trim()).toBe(at(s, 'emailChange.doneTitle'));
        await screen(page, 'email-change-confirmed', { locale, width });
        expect((await ok(person.api.GET('/v1/me'))).email).toBe(moved);
        // back to the link's page within the app (to the settings, then Back): said to be spent at
        // once, no button to press (the page does not show what it looked at before)
        await page.getByRole('link', { name: at(s, 'emailChange.toSettings') }).click();
        await page.getByRole('heading', { name: at(s, 'security.email.title'), exact: true }).waitFor();
        await page.goBack();
        await page.getByRole('heading', { name: at(s, 'emailChange.invalidTitle') }).waitFor();
        expect(await page.getByRole('button', { name: at(s, 'emailChange.confirm') }).count()).toBe(0);

        // the old inbox says "not me": the account goes back and everyone is signed out
        const undoLink = await until(async () => /https?:\/\/\S*\/email-change\?undo=[A-Za-z0-9_-]+/.exec(mailText(web.sys, email, 'email-changed') ?? '')?.[0], 20_000);
        await page.goto(undoLink);
        await page.getByRole('heading', { name: at(s, 'emailChange.undoTitle') }).waitFor();
        expect(await changeFacts(page)).toEqual([
          [at(s, 'emailChange.now'), masked(moved)],
          [at(s, 'emailChange.backTo'), email],
        ]);
        await screen(page, 'email-change-undo', { locale, width });
        await page.getByRole('button', { name: at(s, 'emailChange.undo') }).click();
        await page.getByRole('status').filter({ hasText: at(s, 'emailChange.undone') }).waitFor();
        expect((await page.locator('main h1').innerText()).trim()).toBe(at(s, 'emailChange.undoneTitle'));
        expect((await person.call('GET', '/v1/me')).status).toBe(401);
        await until(async () => mailText(web.sys, email, 'password-reset'), 20_000);
        expect(watch.problems).toEqual([]);
      } finally {
        await context.close();
      }
    }
  }, 240_000);
});

describe('deleting the account', () => {
  const cases = [
    { locale: 'en', width: 1280, ip: '127.0.0.145', email: 'acct-delete-en@example.test' },
    { locale: 'zh', width: 375, ip: '127.0.0.146', email: 'acct-delete-zh@example.test' },
  ] as const;
  it('explains what happens; a wrong password is refused in the person’s language; the right one closes the account: signed out, GET /v1/me 401; signing in again offers to keep it, and keeping it brings the account back', async () => {
    for (const { locale, width, ip, email } of cases) {
      const person = await web.signedUp(ip, email);
      const { context, page, watch } = await newContext({ width, locale, as: person });
      try {
        const s = settingsTexts(locale);
        await visit(page, '/settings/privacy');
        await page.getByText(at(s, 'privacy.deleteLater')).waitFor();
        // nothing typed: the field says so and has focus
        await page.getByRole('button', { name: at(s, 'privacy.delete') }).click();
        await page.locator('#deletePassword-error').waitFor();
        expect(await page.evaluate(() => document.activeElement?.id)).toBe('deletePassword');
        await screen(page, 'settings-privacy', { locale, width });

        // the wrong password: confirmed, then refused with the API's own words
        await page.getByLabel(at(s, 'privacy.password')).fill('not my password 42');
        await page.getByRole('button', { name: at(s, 'privacy.delete') }).click();
        const dialog = page.getByRole('dialog', { name: at(s, 'privacy.deleteConfirmTitle') });
        await dialog.waitFor();
        await screen(page, 'settings-delete-dialog', { locale, width });
        await dialog.getByRole('button', { name: at(s, 'privacy.deleteConfirm') }).click();
        const alert = page.locator('main [role=alert]');
        await alert.waitFor();
        expect(await alert.innerText()).toContain(locale === 'en' ? 'The password is incorrect.' : '密码不正确。');
        expect(await page.evaluate(() => document.activeElement?.className)).toBe('alert');
        expect((await person.call('GET', '/v1/me')).status).toBe(200);

        // Escape cancels the dialog: nothing happens
        await page.getByRole('button', { name: at(s, 'privacy.delete') }).click();
        await dialog.waitFor();
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'hidden' });

        // the right one
        await page.getByLabel(at(s, 'privacy.password')).fill(PASSWORD);
        await page.getByRole('button', { name: at(s, 'privacy.delete') }).click();
        await dialog.waitFor();
        await dialog.getByRole('button', { name: at(s, 'privacy.deleteConfirm') }).click();
        const done = page.locator('.notice-done[role=status]');
        await done.waitFor();
        await page.locator('.sign-in').waitFor();
        expect(await page.evaluate(() => document.activeElement?.className)).toContain('notice-done');
        await screen(page, 'settings-deleted', { locale, width });
        expect((await person.call('GET', '/v1/me')).status).toBe(401);
        // a wrong password learns nothing; the right one is told the account is closing
        const again = web.person(ip);
        expect((await again.api.POST('/v1/auth/login', { body: { email, password: 'not my password 42' } })).response.status).toBe(401);

        // changed their mind: signing in offers to keep it
        const a = texts(locale, 'auth');
        await visit(page, '/sign-in');
        await page.getByLabel(at(a, 'fields.email')).fill(email);
        await page.getByLabel(at(a, 'fields.password'), { exact: true }).fill(PASSWORD);
        await page.getByRole('button', { name: at(a, 'signIn.submit') }).click();
        const offer = page.getByRole('alert').filter({ hasText: at(a, 'keep.title') });
        await offer.waitFor();
        // one choice at a time: no second sign-in form beside the offer
        expect(await page.locator('main form').count()).toBe(0);
        await screen(page, 'sign-in-keep-account', { locale, width });
        await page.getByRole('button', { name: at(a, 'keep.submit') }).click();
        const welcome = page.getByRole('status').filter({ hasText: at(a, 'keep.keptTitle') });
        await welcome.waitFor();
        expect(await page.evaluate(() => document.activeElement?.className)).toContain('notice-done');
        // the form is gone, the header knows the person, the account answers again
        expect(await page.locator('main form').count()).toBe(0);
        expect((await page.context().request.get(`${web.sys.gatewayUrl}/v1/me`)).status()).toBe(200);
        await page.getByRole('link', { name: at(a, 'keep.continue') }).click();
        await page.waitForURL('**/library');
        expect(watch.problems).toEqual([]);
      } finally {
        await context.close();
      }
    }
  }, 240_000);
});

describe('finance and ops', () => {
  it('a finance person sees the trial balance totals, checks the ledger, reconciles, looks up a statement and downloads the CSV', async () => {
    const finance = await signedUpWithRoles('127.0.0.147', 'acct-finance@example.test', ['finance']);
    for (const locale of LOCALES) {
      for (const width of WIDTHS) {
        const { context, page, watch } = await newContext({ width, locale, as: finance });
        try {
          const f = financeTexts(locale);
          await visit(page, '/finance');
          expect((await page.locator('main h1').innerText()).trim()).toBe(at(f, 'title'));
          const table = page.locator('table.trial-balance');
          await table.waitFor();
          const tb = await ok(finance.api.GET('/v1/admin/ledger/trial-balance'));
          const fmt = new Intl.NumberFormat(locale === 'zh' ? 'zh-CN' : 'en-US');
          const totals = (await table.locator('tfoot td.num').allInnerTexts()).map((t) => t.trim());
          expect(totals.slice(0, 2)).toEqual([fmt.format(tb.totals.debits), fmt.format(tb.totals.credits)]);
          expect(tb.totals.debits).toBeGreaterThan(0);
          await page.getByText(at(f, 'trial.balanced')).waitFor();
          // account types in the person's language (zh keeps the API's name beside the word)
          expect(await table.locator('tbody th').first().innerText()).toContain(at(f, `trial.types.${tb.lines[0]!.type}`));
          // on a phone every figure shows without scrolling the table sideways: Scope and Accounts
          // fold into the row header ("System · 1 account"); on a wide screen they are columns
          const overflow = await sidewaysOverflow(page.getByRole('region', { name: at(f, 'trial.tableLabel') }));
          const scopeHeader = table.getByRole('columnheader', { name: at(f, 'trial.scope') });
          const folded = table.locator('tbody th .trial-scope').first();
          if (width === 375) {
            expect(overflow).toBeLessThanOrEqual(0);
            expect(await scopeHeader.isVisible()).toBe(false);
            expect(await folded.innerText()).toContain(tb.lines[0]!.scope === 'system' ? at(f, 'trial.scopeSystem') : at(f, 'trial.scopeUsers'));
          } else {
            expect(await scopeHeader.isVisible()).toBe(true);
            expect(await folded.isVisible()).toBe(false);
          }
          await screen(page, 'finance', { locale, width });
          expect(watch.problems).toEqual([]);
          if (width !== 1280) continue;

          await page.getByRole('button', { name: at(f, 'verify.run') }).click();
          await page.locator('.check-ok', { hasText: at(f, 'verify.ok').split('{{')[0]!.trim() }).waitFor();

          await page.getByRole('button', { name: at(f, 'reconciliation.run') }).click();
          await page.getByText(at(f, 'reconciliation.noOrders')).waitFor();

          const system = tb.lines.find((l) => l.accountId)!;
          await page.getByLabel(at(f, 'statement.account')).fill(system.accountId!);
          await page.getByRole('button', { name: at(f, 'statement.show') }).click();
          await page.locator('.statement-summary').waitFor();
          // the account's type and scope in the page's language, as in the trial balance
          const summary = await page.locator('.statement-summary').innerText();
          expect(summary).toContain(at(f, `trial.types.${system.type}`));
          expect(summary).toContain(at(f, 'trial.scopeSystem'));

          const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: at(f, 'csv.download') }).click()]);
          const csv = (await readFile((await file.path())!)).toString('utf8');
          const header = (await (await apiDownload(finance.options, '/v1/admin/ledger/export.csv')).text()).split('\n')[0]!;
          expect(header.startsWith('transfer_id,')).toBe(true);
          expect(csv.split('\n')[0]).toBe(header);
          expect(csv.split('\n').length).toBeGreaterThan(2);
          await screen(page, 'finance-results', { locale, width });
          expect(watch.problems).toEqual([]);
        } finally {
          await context.close();
        }
      }
    }
  }, 300_000);

  it('a finance person imports the month from Stripe, sees it tie out, downloads its CSV, cannot close a month not over but closes one that is, and goes from a person to their books and orders (en and zh, 375 and 1280 px)', async () => {
    const finance = await signedUpWithRoles('127.0.0.157', 'acct-month-end@example.test', ['finance']);
    const me = await ok(finance.api.GET('/v1/me'));
    const noOrders = await ok((await web.signedUp('127.0.0.158', 'acct-no-orders@example.test')).api.GET('/v1/me'));
    const tz = 'Asia/Shanghai';
    const month = new Intl.DateTimeFormat('en-CA', { timeZone: tz, year: 'numeric', month: '2-digit' }).format(new Date()).slice(0, 7);
    // Stripe paid out a charge no order knows: the month ties out, with one unmatched item.
    const created = new Date(Date.now() - 60_000);
    const charge = web.stripe.putBalanceTransaction({ type: 'charge', amount: 1234, fee: 66, currency: 'usd', created, source: { id: 'ch_test_browser_month', object: 'charge', payment_intent: 'pi_test_browser_nobody' } });
    web.stripe.putPayout({ transactions: [charge.id as string], currency: 'usd', created });
    // The finance person bought a pack (Stripe's hosted page, paid), so the lookup has an order to show.
    const pack = [...(await ok(finance.api.GET('/v1/pricing'))).packs].sort((x, y) => x.credits - y.credits)[0]!;
    const checkout = await ok(finance.api.POST('/v1/billing/checkout', { body: { packId: pack.id } }));
    const paid = await fetch(checkout.url, { method: 'POST', body: new URLSearchParams({ action: 'pay' }), redirect: 'manual' });
    expect(paid.status).toBe(303);
    await until(async () => ((await ok(finance.api.GET('/v1/billing/orders'))).items.find((o) => o.id === checkout.orderId)?.status === 'paid' ? true : undefined), 20_000);
    for (const locale of LOCALES) {
      for (const width of WIDTHS) {
        const { context, page, watch } = await newContext({ width, locale, as: finance });
        try {
          const f = financeTexts(locale);
          await visit(page, '/finance');
          await page.getByRole('heading', { name: at(f, 'monthEnd.title') }).waitFor();
          await chooseMonth(page, f, month);
          // the month's parts are in the page's language (not the browser's), named as the page names months
          const chosen = page.getByRole('group', { name: at(f, 'monthEnd.month'), exact: true }).locator('select');
          expect(await chosen.evaluateAll((selects) => selects.map((el) => (el as unknown as { selectedOptions: PageElement[] }).selectedOptions[0]!.innerText).join(' '))).toBe(
            locale === 'zh' ? `${month.slice(0, 4)}年 ${Number(month.slice(5))}月` : monthName(locale, month),
          );
          // The zone typed and the import pressed from the keyboard.
          await page.getByLabel(at(f, 'monthEnd.tz'), { exact: true }).focus();
          await page.keyboard.press('ControlOrMeta+a');
          await page.keyboard.type(tz);
          expect(await page.getByLabel(at(f, 'monthEnd.tz'), { exact: true }).inputValue()).toBe(tz);
          await page.getByRole('button', { name: at(f, 'monthEnd.import') }).focus();
          await page.keyboard.press('Enter');
          await page.locator('.check-ok', { hasText: at(f, 'monthEnd.tiesOut', { currency: 'USD' }) }).waitFor();
          // the charge that matches no order is said in words, not left to a row of counts
          await page.locator('.check-bad', { hasText: at(f, `monthEnd.differencesBad_${locale === 'en' ? 'one' : 'other'}`, { count: 1, unmatched: 1, amount: 0 }) }).waitFor();
          // a column per currency, a line per figure: on a phone too, nothing to scroll sideways
          const stripeTable = page.getByRole('region', { name: at(f, 'monthEnd.stripeTitle') });
          expect((await stripeTable.locator('thead th').allInnerTexts()).map((s) => s.trim())).toEqual([at(f, 'monthEnd.item'), 'USD']);
          expect((await stripeTable.locator('tbody th').allInnerTexts()).map((s) => s.trim())).toEqual(['sales', 'tax', 'charges', 'refunds', 'disputes', 'fees', 'unmatched', 'notYetPaidOut', 'paidOutFromEarlier', 'payouts', 'unexplained'].map((k) => at(f, `monthEnd.stripe.${k}`)));
          await page.getByRole('heading', { name: at(f, 'monthEnd.revenueTitle') }).waitFor();
          const revenueTable = page.getByRole('region', { name: at(f, 'monthEnd.revenueTitle') });
          await revenueTable.waitFor();
          for (const region of [stripeTable, revenueTable]) expect(await sidewaysOverflow(region)).toBeLessThanOrEqual(0);
          // every column's credits owed at the end (a paid currency's under its money, the free
          // column's alone) add up to the credits the check beside it compares with the ledger
          const owed = (await revenueTable.locator('tbody tr').last().locator('td').allInnerTexts()).map((cell) => Number(/([\d,]+)\s*(?:credits?|积分)/.exec(cell)?.[1]?.replaceAll(',', '') ?? NaN));
          const report = await ok(finance.api.GET('/v1/admin/ledger/revenue', { params: { query: { month, tz } } }));
          expect(owed.reduce((a, b) => a + b, 0)).toBe(report.trialBalance.outstandingCredits);
          expect(report.currencies.some((c) => c.currency !== null && c.credits.closing > 0)).toBe(true);
          await screen(page, 'finance-month-end', { locale, width });

          // a person without orders is told so
          await page.getByLabel(at(f, 'lookup.kind'), { exact: true }).selectOption('userId');
          await page.getByLabel(at(f, 'lookup.id'), { exact: true }).fill(noOrders.id);
          await page.getByRole('button', { name: at(f, 'lookup.find') }).click();
          await page.locator('.lookup-result dd', { hasText: noOrders.id }).first().waitFor();
          expect(await page.locator('.lookup-result').innerText()).toContain(at(f, 'lookup.noOrders'));

          await page.getByLabel(at(f, 'lookup.id'), { exact: true }).fill(me.id);
          await page.getByRole('button', { name: at(f, 'lookup.find') }).click();
          await page.locator('.lookup-result dd', { hasText: me.id }).first().waitFor();
          // the account types and the order's status in the page's language
          const found = await page.locator('.lookup-result').innerText();
          expect(found).toContain(at(f, 'trial.types.available'));
          expect(await page.locator('.lookup-result li', { hasText: checkout.orderId }).innerText()).toContain(at(texts(locale, 'billing'), 'status.paid'));
          expect(found).not.toContain(at(f, 'lookup.noOrders'));
          // the ids wrap: nothing to scroll sideways on a phone
          expect(await sidewaysOverflow(page.locator('.lookup-result'))).toBeLessThanOrEqual(0);
          await screen(page, 'finance-month-end-results', { locale, width });
          expect(watch.problems).toEqual([]);

          const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: at(f, 'monthEnd.csv.transactions') }).click()]);
          const lines = (await readFile((await file.path())!)).toString('utf8').split('\r\n');
          expect(lines[0]).toBe('transaction_id,created_at,booked_at,type,reporting_category,currency,amount,fee,net,status,source_id,payment_intent_id,order_id,payout_id,differences');
          expect(lines.some((l) => l.startsWith(`${charge.id as string},`) && l.includes(',usd,1234,66,1168,'))).toBe(true);

          // The month on screen is not over: no close is offered (the API would refuse it), and the
          // page says from when it can be, in the month's time zone.
          const notOver = at(f, 'monthEnd.notOver', { month: monthName(locale, month) }).split('{{date}}')[0]!;
          await page.locator('.month-close p', { hasText: notOver }).waitFor();
          expect(await page.locator('.month-close p', { hasText: notOver }).innerText()).toContain(locale === 'zh' ? `（${tz}）` : ` (${tz})`);
          expect(await page.locator('.month-close button').count()).toBe(0);
          // That past month, shown, is over: it closes, and the checkpoint it was closed on takes the
          // focus the button had (one month per language and width: a month closes once).
          const past = { en: { 375: '2025-03', 1280: '2025-01' }, zh: { 375: '2025-04', 1280: '2025-02' } }[locale][width];
          await chooseMonth(page, f, past);
          await page.getByRole('button', { name: at(f, 'monthEnd.import') }).click();
          // imported, and Stripe had nothing then: said so, not "import it first"
          await page.locator('.finance-section .empty', { hasText: at(f, 'monthEnd.noStripeImported') }).waitFor();
          // the close acts on the month on screen, not on what the month field says since
          await chooseMonth(page, f, '2024-06');
          await page.getByRole('button', { name: at(f, 'monthEnd.close', { month: monthName(locale, past) }) }).click();
          const closedNow = page.locator('.month-close [role=status]');
          await closedNow.waitFor();
          const closes = await ok(finance.api.GET('/v1/admin/ledger/periods'));
          const close = closes.items.find((c) => c.month === past && c.tz === tz);
          expect(close).toBeDefined();
          expect(closes.items.some((c) => c.month === '2024-06')).toBe(false);
          expect(await closedNow.innerText()).toBe(at(f, 'monthEnd.closedNow', { month: monthName(locale, past), checkpoint: close!.checkpoint?.id ?? '—' }));
          expect(await closedNow.evaluate((el) => el === (document.activeElement as unknown))).toBe(true);
          expect(await page.getByRole('button', { name: at(f, 'monthEnd.close', { month: monthName(locale, past) }) }).count()).toBe(0);
          // the close, its checkpoint and the CSV buttons fit a phone: nothing to scroll sideways
          for (const region of [page.locator('.month-close'), page.locator('.finance-section').filter({ has: page.getByRole('heading', { name: at(f, 'monthEnd.csvTitle') }) })]) {
            expect(await sidewaysOverflow(region)).toBeLessThanOrEqual(0);
          }
          expect(await page.evaluate(() => document.documentElement.scrollWidth - document.documentElement.clientWidth)).toBeLessThanOrEqual(0);
          await screen(page, 'finance-month-closed', { locale, width });
          expect(watch.problems).toEqual([]);

        } finally {
          await context.close();
        }
      }
    }
  }, 300_000);

  it('a plain person is told /finance and /ops are not for them (the API agrees: 403); an ops person gets the queue board link', async () => {
    const plain = await web.signedUp('127.0.0.148', 'acct-plain@example.test');
    expect((await plain.call('GET', '/v1/admin/ledger/trial-balance')).status).toBe(403);
    const ops = await signedUpWithRoles('127.0.0.149', 'acct-ops@example.test', ['ops']);
    for (const locale of LOCALES) {
      const f = financeTexts(locale);
      for (const width of WIDTHS) {
        const { context, page, watch } = await newContext({ width, locale, as: plain });
        try {
          await visit(page, '/finance');
          await page.getByText(at(f, 'notAllowed.title')).waitFor();
          // the roles it needs by their names in the page's language, not their codes
          const roleNames = new Intl.ListFormat(locale, { type: 'disjunction' }).format(['finance', 'admin'].map((r) => at(texts(locale, 'admin'), `roles.${r}`)));
          expect((await page.locator('.notice-refused p').innerText()).trim()).toBe(at(f, 'notAllowed.text', { roles: roleNames }));
          expect(await page.locator('table').count()).toBe(0);
          await screen(page, 'finance-not-allowed', { locale, width });
          await visit(page, '/ops');
          expect((await page.locator('main h1').innerText()).trim()).toBe(at(f, 'ops.title'));
          await page.getByText(at(f, 'notAllowed.title')).waitFor();
          expect(await page.locator('main a[href="/admin/queues"]').count()).toBe(0);
          expect(watch.problems).toEqual([]);
        } finally {
          await context.close();
        }
        const opsView = await newContext({ width, locale, as: ops });
        try {
          await visit(opsView.page, '/ops');
          const link = opsView.page.locator('main').getByRole('link', { name: at(f, 'ops.boardLink') });
          await link.waitFor();
          expect(await link.getAttribute('href')).toBe('/admin/queues');
          await opsView.page.getByText(at(f, 'ops.boardText')).waitFor();
          await screen(opsView.page, 'ops', { locale, width });
          // the finance page is not theirs
          await visit(opsView.page, '/finance');
          await opsView.page.getByText(at(f, 'notAllowed.title')).waitFor();
          expect(opsView.watch.problems).toEqual([]);
        } finally {
          await opsView.context.close();
        }
      }
    }
    // the board the link leads to answers the ops person, not the plain one
    expect((await ops.call('GET', '/admin/queues')).status).toBe(200);
    expect((await plain.call('GET', '/admin/queues')).status).toBe(403);
  }, 300_000);
});
