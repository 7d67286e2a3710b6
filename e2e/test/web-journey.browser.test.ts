// The whole journey a person makes, in a real browser against the real system (every service, the
// render worker with a quick local renderer, the gateway serving web/dist, the Stripe fake's hosted
// Checkout): sign up → the link from the development mailbox → verified → sign in → create with a
// reference image → progress → library → publish → the gallery signed out → buy a pack → the
// balance and the history line → export and download the zip → delete the account → signed out,
// the images gone from the gallery. One continuous journey per language in one browser context:
// everything the person does is done through the pages; the API client only checks what the
// system then says. English at 1280 px, Chinese at 375 px; the key screens pass axe-core.
import { readFile } from 'node:fs/promises';
import { strFromU8, unzipSync } from 'fflate';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '@imlab/client';
import { mailText, PASSWORD, until, type Browser } from './browser.js';
import { at, png, inContext as runInContext, newContext as openContext, screen, startWebSystem, texts, visit as open, type ContextOptions, type Locale, type WebSystem , type View } from './web.js';

let web: WebSystem;

beforeAll(async () => {
  // The browser itself always comes from 127.0.0.1, and the sign-up bonus is once per address
  // within SIGNUP_BONUS_WINDOW: a window of one second lets the second person's verification (from
  // the same address, minutes later) get the bonus too.
  web = await startWebSystem('webjourney', { LOCAL_RENDER_MS: '1500', SIGNUP_BONUS_WINDOW: '1s' });
}, 900_000);

afterAll(async () => {
  await web?.stop();
});

const newContext = (opts: ContextOptions) => openContext(web, opts);
const inContext = <T>(opts: ContextOptions, check: (view: View) => Promise<T>) => runInContext(web, opts, check);
const visit = (page: Page, p: string) => open(page, web.sys.gatewayUrl, p);


const balanceOf = async (b: Browser) => ok(b.api.GET('/v1/credits/balance'));

/** A signed-out visitor's /gallery, once it has loaded (the grid, or the empty notice). */
async function galleryShows(imageId: string, locale: Locale, width: number): Promise<boolean> {
  return inContext({ width, locale }, async ({ page, watch }) => {
    await visit(page, '/gallery');
    await page.locator('.gallery-grid, .notice.empty').first().waitFor();
    const shown = (await page.locator(`.gallery-grid img[src="/v1/images/${imageId}/thumb"]`).count()) > 0;
    expect(watch.problems).toEqual([]);
    return shown;
  });
}

describe('the whole journey', () => {
  const people: { locale: Locale; width: number; ip: string; email: string; name: string }[] = [
    { locale: 'en', width: 1280, ip: '127.0.0.160', email: 'web-journey-en@example.test', name: 'Journey Person' },
    { locale: 'zh', width: 375, ip: '127.0.0.161', email: 'web-journey-zh@example.test', name: '旅程中的人' },
  ];
  for (const { locale, width, ip, email, name } of people) {
    it(`${locale} at ${width} px: sign up → mailed link → sign in → create with a reference → progress → library → publish → gallery → buy → history → export → delete → gone`, async () => {
      const auth = texts(locale, 'auth');
      const c = texts(locale, 'create');
      const g = texts(locale, 'gallery');
      const p = texts(locale, 'pricing');
      const b = texts(locale, 'billing');
      const s = texts(locale, 'settings');
      const common = texts(locale, 'common');
      const base = web.sys.gatewayUrl;
      const shot = (page: Page, n: string) => screen(page, n, { locale, width });
      // what the system says, asked with the person's own session (taken from the browser)
      const api = web.person(ip);
      api.cookies.set('locale', locale);
      const pack = [...(await ok(api.api.GET('/v1/pricing'))).packs].sort((x, y) => x.credits - y.credits)[0]!;

      let imageId: string | undefined;
      await inContext({ width, locale, allowOrigins: [web.stripe.base] }, async ({ context, page }) => {
        // Sign up through the form.
        await visit(page, '/sign-up');
        await page.getByLabel(at(auth, 'fields.email')).fill(email);
        await page.getByLabel(at(auth, 'fields.password'), { exact: true }).fill(PASSWORD);
        await page.getByLabel(at(auth, 'fields.displayName')).fill(name);
        await page.locator('main').getByRole('button', { name: at(auth, 'signUp.submit') }).click();
        await page.locator('main h1', { hasText: at(auth, 'signUp.sentTitle') }).waitFor();

        // The link in the mail opens the app and confirms the address.
        const link = await until(async () => /https?:\/\/\S+\/verify-email\?token=[A-Za-z0-9_-]+/.exec(mailText(web.sys, email, 'verify-email') ?? '')?.[0], 20_000);
        expect(link.startsWith(`${base}/verify-email?token=`)).toBe(true);
        await page.goto(link, { waitUntil: 'load' });
        await page.getByText(at(auth, 'verify.done')).waitFor();
        await shot(page, 'journey-verified');

        // Sign in through the form: home, the account in the header.
        await page.locator('main').getByRole('link', { name: at(auth, 'verify.toSignIn') }).click();
        await page.locator('main h1', { hasText: at(auth, 'signIn.title') }).waitFor();
        await page.getByLabel(at(auth, 'fields.email')).fill(email);
        await page.getByLabel(at(auth, 'fields.password'), { exact: true }).fill(PASSWORD);
        await page.locator('main').getByRole('button', { name: at(auth, 'signIn.submit'), exact: true }).click();
        await page.locator('.account-button').waitFor();
        expect(new URL(page.url()).pathname).toBe('/');
        const sid = (await context.cookies()).find((k) => k.name === 'imlab_sid')?.value;
        expect(sid).toBeTruthy();
        api.cookies.set('imlab_sid', sid!);
        const me = await ok(api.api.GET('/v1/me'));
        expect(me).toMatchObject({ email, displayName: name, locale });
        // the sign-up bonus arrives through the ledger
        await until(async () => ((await balanceOf(api)).available === 40 ? true : undefined), 20_000);

        // Create, with a reference image through the file input.
        let quotedCost: number | undefined;
        page.on('response', (r) => {
          if (r.url().endsWith('/v1/generations/quote') && r.status() === 200) void r.json().then((q: { cost: number }) => (quotedCost = q.cost)).catch(() => undefined);
        });
        await visit(page, '/create');
        await page.locator('.price-balance', { hasText: at(c, 'price.balance_other', { count: 40 }) }).waitFor();
        await page.locator('#prompt').fill('a lighthouse on a cliff at dusk');
        await page.locator('#references').setInputFiles({ name: 'cliff.png', mimeType: 'image/png', buffer: png(64, 48, [40, 90, 160]) });
        await page.locator('.ref-done').waitFor();
        expect(await page.locator('.ref img').getAttribute('src')).toMatch(/^blob:/);
        await until(async () => ((await page.locator('.price-note').count()) === 0 && quotedCost !== undefined ? true : undefined));
        await page.locator('.price-cost', { hasText: at(c, 'price.cost_other', { count: quotedCost! }) }).waitFor();
        await shot(page, 'journey-create');

        // Progress, then the results, on the generation's page.
        await page.evaluate(`(() => {
          window.progressSeen = [];
          new MutationObserver(() => {
            const bar = document.querySelector('[role=progressbar]');
            if (bar) window.progressSeen.push(Number(bar.getAttribute('aria-valuenow') ?? -1));
          }).observe(document.body, { subtree: true, childList: true, attributes: true });
        })()`);
        await page.locator('.create-submit').click();
        await page.waitForURL(/\/generations\/[0-9a-f-]{36}$/);
        const generationId = new URL(page.url()).pathname.split('/').pop()!;
        await page.locator('[role=progressbar]').waitFor();
        expect(await page.locator('.status-line').getAttribute('aria-live')).toBe('polite');
        await shot(page, 'journey-progress');
        await page.locator('.thumbs img').first().waitFor({ timeout: 30_000 });
        await page.locator('.status-line', { hasText: at(c, 'generation.status.succeeded') }).waitFor();
        expect(await page.locator('[role=progressbar]').count()).toBe(0);
        expect(((await page.evaluate('window.progressSeen')) as number[]).length).toBeGreaterThan(0);
        const generation = await ok(api.api.GET('/v1/generations/{id}', { params: { path: { id: generationId } } }));
        expect(generation).toMatchObject({ status: 'succeeded', prompt: 'a lighthouse on a cliff at dusk', cost: quotedCost });
        expect(generation.referenceUploadIds).toHaveLength(1);
        expect(generation.images).toHaveLength(1);
        const image = generation.images[0]!;
        imageId = image.id;
        expect(await page.locator('.thumbs img').first().getAttribute('src')).toBe(image.thumbUrl);
        const spent = 40 - quotedCost!;
        await until(async () => {
          const bal = await balanceOf(api);
          return bal.available === spent && bal.held === 0 ? true : undefined;
        }, 20_000);

        // The library: the generation, its image; publish it.
        await visit(page, '/library');
        const thumb = page.locator(`#gen-${generationId} .thumb`);
        await thumb.waitFor();
        await page.locator(`#gen-${generationId} .thumb img`).waitFor();
        await shot(page, 'journey-library');
        await thumb.click();
        const dialog = page.locator('dialog.image-dialog');
        await dialog.waitFor();
        await dialog.getByRole('button', { name: at(c, 'image.publish') }).click();
        // Seen once in a full run (zh, three systems side by side) and not since: say what the dialog showed.
        await dialog
          .locator('.image-state', { hasText: at(c, 'image.published') })
          .waitFor()
          .catch(async (err: Error) => {
            throw new Error(`${err.message}\nthe dialog says: ${await dialog.innerText().catch(() => '?')}\nlast service logs:\n${web.sys.logs.slice(-15).join('')}`);
          });
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });

        // Signed out, anyone sees it in the gallery, by the display name.
        {
          const visitor = await newContext({ width, locale });
          try {
            await visit(visitor.page, '/gallery');
            const item = visitor.page.locator('.gallery-grid > li', { has: visitor.page.locator(`img[src="/v1/images/${image.id}/thumb"]`) });
            await item.waitFor();
            expect(await item.innerText()).toContain(at(g, 'by', { name }));
            expect(await visitor.page.locator('main').innerText()).not.toContain(email);
            await screen(visitor.page, 'journey-gallery', { locale, width });
            expect(visitor.watch.problems).toEqual([]);
          } finally {
            await visitor.context.close();
          }
        }

        // Buy the smallest pack: Pricing → Buy → Stripe Checkout (the fake) → Pay → back in the app.
        await visit(page, '/pricing');
        await page.getByRole('button', { name: at(p, 'buy', { name: pack.name[locale] }) }).click();
        await page.waitForURL(`${web.stripe.base}/c/pay/**`);
        await page.getByRole('button', { name: 'Pay' }).click();
        await page.waitForURL(`${base}/billing/success?order=**`);
        const orderId = new URL(page.url()).searchParams.get('order')!;
        await page.locator('main h1', { hasText: at(b, 'success.title') }).waitFor();
        const status = page.locator('.progress[role=status]');
        await status.getByText(at(b, 'success.done_other', { count: pack.credits })).waitFor({ timeout: 30_000 });
        await status.getByText(at(b, 'success.balance_other', { count: spent + pack.credits })).waitFor();
        expect(await page.locator('.order-summary').innerText()).toContain(at(b, 'status.paid'));
        await page.locator('.account-panel .account-balance', { hasText: at(common, 'account.credits_other', { count: spent + pack.credits }) }).waitFor({ state: 'attached' });
        await shot(page, 'journey-checkout-success');
        expect((await balanceOf(api)).available).toBe(spent + pack.credits);
        expect((await ok(api.api.GET('/v1/billing/orders'))).items[0]).toMatchObject({ id: orderId, packId: pack.id, status: 'paid', credits: pack.credits });

        // The credit history: the purchase line, in words (as the API words it), with its amount.
        const purchase = (await ok(api.api.GET('/v1/credits/transactions'))).items.find((t) => t.kind === 'purchase' && t.orderId === orderId)!;
        expect(purchase).toMatchObject({ amount: pack.credits });
        expect(purchase.description).toBeTruthy();
        await visit(page, '/settings/credits');
        const line = page.locator('.credit-line', { has: page.locator('.credit-description', { hasText: purchase.description }) });
        await line.waitFor();
        expect(await line.locator('.credit-description').innerText()).toBe(purchase.description);
        expect(await line.locator('.credit-kind').innerText()).toBe(at(s, 'credits.kind.purchase'));
        expect(await line.locator('.credit-amount').innerText()).toBe(`+${pack.credits}`);
        await shot(page, 'journey-history');

        // Export: prepared, then the zip downloaded (PK…, the person's profile inside).
        await visit(page, '/settings/privacy');
        await page.getByRole('button', { name: at(s, 'privacy.exportStart') }).click();
        const downloadButton = page.getByRole('button', { name: at(s, 'privacy.exportDownload') });
        await downloadButton.waitFor({ timeout: 90_000 });
        await shot(page, 'journey-export');
        const [file] = await Promise.all([page.waitForEvent('download'), downloadButton.click()]);
        const bytes = await readFile((await file.path())!);
        expect(bytes.subarray(0, 2).toString()).toBe('PK');
        const zip = unzipSync(new Uint8Array(bytes));
        expect(Object.keys(zip)).toEqual(expect.arrayContaining(['profile.json']));
        expect(JSON.parse(strFromU8(zip['profile.json']!))).toMatchObject({ email });

        // Delete the account with the password: signed out at once.
        await page.getByLabel(at(s, 'privacy.password')).fill(PASSWORD);
        await page.getByRole('button', { name: at(s, 'privacy.delete') }).click();
        const confirm = page.getByRole('dialog', { name: at(s, 'privacy.deleteConfirmTitle') });
        await confirm.waitFor();
        await confirm.getByRole('button', { name: at(s, 'privacy.deleteConfirm') }).click();
        const done = page.locator('.notice-done[role=status]');
        await done.waitFor();
        expect(await done.innerText()).toContain(at(s, 'ended.deleted').split('{{')[0]!.trim());
        await page.locator('.sign-in').waitFor();
        expect(await page.locator('.account-button').count()).toBe(0);
        await shot(page, 'journey-deleted');
        expect((await api.call('GET', '/v1/me')).status).toBe(401);
      });

      // Signed out, the gallery no longer shows the image (unpublished at once on deletion).
      expect(imageId).toBeDefined();
      await until(async () => ((await galleryShows(imageId!, locale, width)) ? undefined : true), 30_000);
      const gallery = await ok(web.person('127.0.0.169').api.GET('/v1/gallery', { params: { query: { limit: 100 } } }));
      expect(gallery.items.map((i) => i.id)).not.toContain(imageId);
      expect((await web.person('127.0.0.169').call('GET', `/v1/images/${imageId}`)).status).toBe(404);
    }, 300_000);
  }
});
