// The gallery, Home's recent images, the pricing and buying credits in a real browser: the real
// system (every service, a render worker, the gateway serving web/dist) and the Stripe fake's
// hosted Checkout stand-in (Pay sends the signed webhook through the gateway, then returns to the
// app). Each test checks what the person sees and what the API then says; key screens at 375 and
// 1280 px in English and Chinese pass axe-core with no serious or critical violation.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ok } from '@imlab/client';
import { PASSWORD, until, type Browser } from './browser.js';
import { at, LOCALES, inContext as runInContext, newContext as openContext, screen, startWebSystem, texts, visit as open, WIDTHS, type ContextOptions, type Locale, type PageElement, type WebSystem , type View } from './web.js';

declare const document: { documentElement: { scrollWidth: number; scrollHeight: number }; activeElement: PageElement | null };
declare const window: { scrollTo(x: number, y: number): void; IntersectionObserver?: unknown };

let web: WebSystem;
/** The people who published images, and how many images are in the gallery. */
let publishers: Browser[] = [];
let published = 0;

beforeAll(async () => {
  web = await startWebSystem('web-buying');
}, 900_000);

afterAll(async () => {
  await web?.stop();
});

const newContext = (opts: ContextOptions) => openContext(web, opts);
const inContext = <T>(opts: ContextOptions, check: (view: View) => Promise<T>) => runInContext(web, opts, check);
const visit = (page: Parameters<typeof open>[0], p: string) => open(page, web.sys.gatewayUrl, p);
const balance = async (b: Browser) => (await ok(b.api.GET('/v1/credits/balance'))).available;

/** `n` images made through the API with the cheapest tier and size, each published. */
async function publishImages(b: Browser, n: number, label: string): Promise<void> {
  const { tiers } = await ok(b.api.GET('/v1/generations/options'));
  const cheapest = tiers.flatMap((t) => t.sizes.map((s) => ({ model: t.id, size: s.size, credits: s.creditsPerImage, max: t.maxCount }))).sort((x, y) => x.credits - y.credits)[0]!;
  let made = 0;
  while (made < n) {
    const count = Math.min(cheapest.max, n - made);
    const created = await b.api.POST('/v1/generations', { body: { prompt: `${label} harbour study ${made}`, model: cheapest.model as never, size: cheapest.size as never, count } });
    expect(created.response.status, JSON.stringify(created.error)).toBe(202);
    const id = created.data!.id;
    const done = await until(async () => {
      const r = await b.api.GET('/v1/generations/{id}', { params: { path: { id } } });
      return r.data?.status === 'succeeded' ? r.data : undefined;
    }, 60_000);
    for (const img of done.images) {
      const res = await b.api.POST('/v1/images/{id}/publish', { params: { path: { id: img.id } } });
      expect(res.response.status).toBe(200);
    }
    made += done.images.length;
  }
}

/** Enough published images for more than one page of the gallery (24 a page), from two people. */
async function ensurePublished(): Promise<void> {
  if (published) return;
  publishers = [await web.signedUp('127.0.0.100', 'web-gallery-a@example.test'), await web.signedUp('127.0.0.101', 'web-gallery-b@example.test')];
  for (const p of publishers) await until(async () => ((await balance(p)) === 40 ? true : undefined), 20_000);
  // the second shows no name: the gallery says "anonymous" in the page's language
  expect((await publishers[1]!.api.PATCH('/v1/me', { body: { displayName: '' } })).response.status).toBe(200);
  await publishImages(publishers[0]!, 16, 'first');
  await publishImages(publishers[1]!, 14, 'second');
  published = (await ok(web.person('127.0.0.119').api.GET('/v1/gallery', { params: { query: { limit: 100 } } }))).items.length;
  expect(published).toBeGreaterThanOrEqual(30);
}

describe('the gallery, signed out', () => {
  for (const locale of LOCALES) {
    for (const width of WIDTHS) {
      it(`${locale} at ${width} px: lazy WebP thumbnails with their size set, the next page on scrolling, only display names, the large view`, async () => {
        await ensurePublished();
        const g = texts(locale, 'gallery');
        await inContext({ width, locale }, async ({ page }) => {
          const thumbs: { url: string; type: string | null }[] = [];
          page.on('response', (r) => {
            if (/\/v1\/images\/[^/]+\/thumb$/.test(r.url())) thumbs.push({ url: r.url(), type: r.headers()['content-type'] ?? null });
          });
          await visit(page, '/gallery');
          const items = page.locator('.gallery-grid > li');
          await until(async () => ((await items.count()) >= 24 ? true : undefined), 20_000);
          const first = page.locator('.gallery-grid img').first();
          await first.waitFor();
          expect(await first.getAttribute('loading')).toBe('lazy');
          expect(await first.getAttribute('src')).toMatch(/^\/v1\/images\/[0-9a-f-]{36}\/thumb$/);
          expect(Number(await first.getAttribute('width'))).toBeGreaterThan(0);
          expect(Number(await first.getAttribute('height'))).toBeGreaterThan(0);
          await until(async () => (thumbs.length > 0 ? true : undefined), 10_000);
          expect(thumbs.every((t) => t.type === 'image/webp')).toBe(true);
          // lazy: on a phone, the images far below the window were not asked for yet
          if (width === 375) expect(thumbs.length).toBeLessThan(24);
          // Only the display name: no address, no account id of the people who published.
          const text = await page.locator('main').innerText();
          for (const p of publishers) {
            const me = await ok(p.api.GET('/v1/me'));
            expect(text).not.toContain(me.email);
            expect(text).not.toContain(me.id);
          }
          expect(text).toContain(at(g, 'by', { name: 'Mei <b>Ling</b>' }));
          expect(text).toContain(at(g, 'by', { name: at(g, 'anonymous') }));
          if (locale === 'zh') expect(text).not.toContain('anonymous');
          expect(text).not.toContain('harbour study'); // the API does not publish prompts
          await screen(page, 'gallery-published', { locale, width });

          // Scrolling down loads the next page, until every image is there.
          for (let i = 0; i < 10 && (await items.count()) < published; i++) {
            await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
            await page.waitForTimeout(300);
          }
          await until(async () => ((await items.count()) === published ? true : undefined), 20_000);
          await page.getByText(at(g, 'end')).waitFor();
          expect(await page.getByRole('button', { name: at(g, 'loadMore') }).count()).toBe(0);

          // The large view: a modal dialog with the name, closed by Escape, focus back on the image.
          const openers = page.locator('.gallery-open');
          await openers.nth(2).click();
          const dialog = page.getByRole('dialog');
          await dialog.waitFor();
          // the newest images are the second publisher's, who shows no name
          expect(await dialog.innerText()).toContain(at(g, 'viewer_anonymous'));
          expect(await dialog.locator('img').getAttribute('src')).toMatch(/^\/v1\/images\/[0-9a-f-]{36}$/);
          expect(await page.evaluate(() => (document.activeElement as PageElement).innerText.trim())).toBe(at(g, 'close'));
          await screen(page, 'gallery-viewer', { locale, width });
          await page.keyboard.press('Escape');
          await dialog.waitFor({ state: 'hidden' });
          // the dialog's close event (which moves the focus back) is a task queued after it hides
          await until(async () => ((await page.evaluate(() => (document.activeElement as PageElement).className)) === 'gallery-open' ? true : undefined), 5_000);
          // and by its Close button: the same
          await openers.nth(2).click();
          await dialog.waitFor();
          await dialog.getByRole('button', { name: at(g, 'close'), exact: true }).click();
          await dialog.waitFor({ state: 'hidden' });
          await until(async () => ((await page.evaluate(() => (document.activeElement as PageElement).className)) === 'gallery-open' ? true : undefined), 5_000);
        });
      }, 300_000);
    }
  }

  it('zh at 1280 px: a next page that fails is asked for once (and its one retry), said with Try again, not asked again by the scroll; Try again loads it', async () => {
    await ensurePublished();
    const g = texts('zh', 'gallery');
    const failedPage = (p: string) => p.includes('/v1/gallery') || p.includes('503');
    await inContext({ width: 1280, locale: 'zh', intended: failedPage }, async ({ page }) => {
      let nextPages = 0;
      let failing = true;
      await page.route('**/v1/gallery?**', async (route) => {
        if (!new URL(route.request().url()).searchParams.has('cursor')) return route.fallback();
        nextPages++;
        if (!failing) return route.fallback();
        return route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'SERVICE_UNAVAILABLE' }) });
      });
      await visit(page, '/gallery');
      const items = page.locator('.gallery-grid > li');
      await until(async () => ((await items.count()) === 24 ? true : undefined), 20_000);
      await page.evaluate(() => window.scrollTo(0, document.documentElement.scrollHeight));
      const failed = page.locator('.gallery-more .load-error');
      await failed.waitFor();
      // the end of the grid stays in view: nothing more is asked for while the person does nothing
      await page.waitForTimeout(2_500);
      expect(nextPages).toBeLessThanOrEqual(2);
      expect(await items.count()).toBe(24);
      await screen(page, 'gallery-next-failed', { locale: 'zh', width: 1280 });
      failing = false;
      await failed.getByRole('button', { name: at(texts('zh', 'common'), 'retry') }).click();
      await until(async () => ((await items.count()) === Math.min(published, 48) ? true : undefined), 20_000);
      expect(await failed.count()).toBe(0);
      expect(await page.locator('.gallery-more [role=status]').innerText()).toBe(published <= 48 ? at(g, 'end') : at(g, 'shown', { count: 48 }));
      await page.unroute('**/v1/gallery?**');
    });
  }, 120_000);

  it('without IntersectionObserver, "Load more" by keyboard loads the next page', async () => {
    await ensurePublished();
    await inContext({ width: 1280, locale: 'en' }, async ({ context, page }) => {
      await context.addInitScript(() => {
        delete window.IntersectionObserver;
      });
      await visit(page, '/gallery');
      const items = page.locator('.gallery-grid > li');
      await until(async () => ((await items.count()) === 24 ? true : undefined), 20_000);
      const more = page.getByRole('button', { name: 'Load more' });
      await more.focus();
      await page.keyboard.press('Enter');
      await until(async () => ((await items.count()) === Math.min(published, 48) ? true : undefined), 20_000);
      await expect(page.locator('.gallery-more [role=status]').innerText()).resolves.toBe(published <= 48 ? 'That is every published image.' : `${48} images shown.`);
    });
  }, 120_000);
});

describe('Home', () => {
  for (const locale of LOCALES) {
    it(`${locale}: the recently published strip shows the newest public images`, async () => {
      await ensurePublished();
      await inContext({ width: 1280, locale }, async ({ page }) => {
        await visit(page, '/');
        const strip = page.locator('.recent-strip img');
        await strip.first().waitFor();
        expect(await strip.count()).toBe(6);
        const newest = (await ok(web.person('127.0.0.119').api.GET('/v1/gallery', { params: { query: { limit: 6 } } }))).items.map((i) => i.thumbUrl);
        expect(await strip.evaluateAll((els) => els.map((e) => (e as unknown as { getAttribute(name: string): string | null }).getAttribute('src')))).toEqual(newest);
        await page.getByRole('link', { name: at(texts(locale, 'gallery'), 'recentLink') }).waitFor();
        await screen(page, 'home-recent', { locale, width: 1280 });
      });
    }, 120_000);
  }
});

describe('pricing', () => {
  for (const locale of LOCALES) {
    for (const width of WIDTHS) {
      it(`${locale} at ${width} px: every pack with its price in the locale's format, every tier, Buy asks a signed-out person to sign in`, async () => {
        const pricing = await ok(web.person('127.0.0.118').api.GET('/v1/pricing'));
        const options = await ok(web.person('127.0.0.118').api.GET('/v1/generations/options'));
        const p = texts(locale, 'pricing');
        await inContext({ width, locale }, async ({ page }) => {
          await visit(page, '/pricing');
          const packs = page.locator('.pack');
          await packs.first().waitFor();
          expect(await packs.count()).toBe(pricing.packs.length);
          for (const [i, pack] of pricing.packs.entries()) {
            const card = packs.nth(i);
            const price = new Intl.NumberFormat(locale === 'zh' ? 'zh-CN' : 'en-US', { style: 'currency', currency: pack.currency.toUpperCase() }).format(pack.price / 100);
            expect(await card.locator('h3').innerText()).toBe(pack.name[locale]);
            expect(await card.locator('.pack-price').innerText()).toBe(price);
            // thousands grouped as the page's language does: 1,500
            const credits = await card.locator('.pack-credits').innerText();
            expect(credits).toBe(at(p, 'credits_other', { count: pack.credits }));
            if (pack.credits >= 1000) expect(credits).toMatch(/^\d{1,3}(,\d{3})+ /);
            const link = card.getByRole('link', { name: at(p, 'signInToBuy', { name: pack.name[locale] }) });
            expect(await link.getAttribute('href')).toBe('/sign-in?returnTo=%2Fpricing');
          }
          // the prices include tax here (PRICES_TAX_BEHAVIOR's default), and the page says so
          expect(pricing.tax).toEqual({ pricesInclude: true, calculatedAtCheckout: false });
          expect(await page.locator('.tax-note').innerText()).toBe(at(p, 'tax.included'));
          const tiers = page.locator('.tier');
          await tiers.first().waitFor();
          expect(await tiers.count()).toBe(options.tiers.length);
          for (const [i, tier] of options.tiers.entries()) {
            const card = await tiers.nth(i).innerText();
            expect(card).toContain(at(p, 'maxCount', { count: tier.maxCount }));
            // named and described in the same words as on the create page (one text for both)
            expect(card).toContain(at(texts(locale, 'common'), `tiers.${tier.id}.label`));
            expect(card).toContain(at(texts(locale, 'common'), `tiers.${tier.id}.description`));
            for (const s of tier.sizes) expect(card).toContain(`${s.width}×${s.height}`);
          }
          await screen(page, 'pricing', { locale, width });
        });
      }, 120_000);
    }
  }

  it('/pricing?shortfall=N says how many credits are missing and highlights the smallest pack that covers them', async () => {
    const pricing = await ok(web.person('127.0.0.118').api.GET('/v1/pricing'));
    const sorted = [...pricing.packs].sort((a, b) => a.credits - b.credits);
    const shortfall = sorted[0]!.credits + 1; // more than the smallest pack
    const cover = sorted.find((pk) => pk.credits >= shortfall)!;
    for (const locale of LOCALES) {
      const p = texts(locale, 'pricing');
      await inContext({ width: 375, locale }, async ({ page }) => {
        await visit(page, `/pricing?shortfall=${shortfall}`);
        const notice = page.locator('.shortfall');
        await notice.waitFor();
        expect(await notice.innerText()).toContain(at(p, 'shortfall_other', { count: shortfall }));
        expect(await notice.innerText()).toContain(at(p, 'shortfallHelp', { name: cover.name[locale] }));
        const recommended = page.locator('.pack.recommended');
        expect(await recommended.count()).toBe(1);
        expect(await recommended.locator('h3').innerText()).toBe(cover.name[locale]);
        // signing in comes back to the same page, shortfall and all
        expect(await recommended.getByRole('link').getAttribute('href')).toBe(`/sign-in?returnTo=${encodeURIComponent(`/pricing?shortfall=${shortfall}`)}`);
        await screen(page, 'pricing-shortfall', { locale, width: 375 });
      });
    }
  }, 120_000);
});

describe('buying credits', () => {
  const buyers: { locale: Locale; width: number; ip: string; email: string }[] = [
    { locale: 'en', width: 1280, ip: '127.0.0.102', email: 'web-buyer-en@example.test' },
    { locale: 'zh', width: 375, ip: '127.0.0.103', email: 'web-buyer-zh@example.test' },
  ];
  for (const { locale, width, ip, email } of buyers) {
    it(`${locale} at ${width} px: Pricing → Buy → Stripe Checkout → Pay → the success page shows the order paid and the new balance → Orders lists it`, async () => {
      const person = await web.signedUp(ip, email);
      await until(async () => ((await balance(person)) === 40 ? true : undefined), 20_000);
      const pricing = await ok(person.api.GET('/v1/pricing'));
      const pack = [...pricing.packs].sort((a, b) => a.credits - b.credits)[0]!;
      const p = texts(locale, 'pricing');
      const b = texts(locale, 'billing');
      const common = texts(locale, 'common');
      await inContext({ width, locale, as: person, allowOrigins: [web.stripe.base] }, async ({ page }) => {
        await visit(page, '/pricing');
        await screen(page, 'pricing-signed-in', { locale, width });
        // Until the browser has left for Stripe, no Buy button works again (a second click would open
        // a second order). Stripe's page answers 204 here, so the browser stays on this one: the
        // buttons are still busy; then the browser goes on to the session's page.
        await page.route(`${web.stripe.base}/c/pay/**`, (route) => route.fulfill({ status: 204 }));
        const answered = page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/billing/checkout');
        await page.getByRole('button', { name: at(p, 'buy', { name: pack.name[locale] }) }).click();
        const checkout = await answered;
        expect(checkout.status()).toBe(201);
        await page.waitForTimeout(500);
        await page.getByRole('button', { name: at(p, 'buying') }).waitFor();
        expect(await page.locator('.packs button').evaluateAll((bs) => bs.map((b) => (b as unknown as { disabled: boolean }).disabled))).toEqual(pricing.packs.map(() => true));
        expect(await page.locator('.pricing-page p[aria-live=polite]').innerText()).toBe(at(p, 'buying'));
        await page.unroute(`${web.stripe.base}/c/pay/**`);
        await page.goto(((await checkout.json()) as { url: string }).url);

        // Stripe Checkout (the fake's page), in the person's language as the API asked
        await page.waitForURL(`${web.stripe.base}/c/pay/**`);
        const session = [...web.stripe.sessions.values()].find((s) => page.url().endsWith(`/c/pay/${s.id}`))!;
        expect(session.locale).toBe(locale);
        expect(session.amount_total).toBe(pack.price);
        await page.getByRole('button', { name: 'Pay' }).click();

        // Back in the app: the order, paid, and the credits
        await page.waitForURL(`${web.sys.gatewayUrl}/billing/success?order=**`);
        const orderId = new URL(page.url()).searchParams.get('order')!;
        expect(session.metadata).toEqual({ orderId });
        await page.locator('main h1', { hasText: at(b, 'success.title') }).waitFor();
        const status = page.locator('.progress[role=status]');
        await status.getByText(at(b, 'success.done_other', { count: pack.credits })).waitFor({ timeout: 30_000 });
        await status.getByText(at(b, 'success.balance_other', { count: 40 + pack.credits })).waitFor();
        expect(await page.locator('.order-summary').innerText()).toContain(at(b, 'status.paid'));
        expect(await page.locator('.order-summary').innerText()).toContain(pack.name[locale]);
        // the header's balance followed
        await page.locator('.account-panel .account-balance', { hasText: at(common, 'account.credits_other', { count: 40 + pack.credits }) }).waitFor({ state: 'attached' });
        await screen(page, 'billing-success', { locale, width });

        // what the API says: the order paid, the ledger's balance up by the pack
        expect(await balance(person)).toBe(40 + pack.credits);
        const orders = await ok(person.api.GET('/v1/billing/orders'));
        expect(orders.items[0]).toMatchObject({ id: orderId, packId: pack.id, status: 'paid', credits: pack.credits, amount: pack.price });
        const history = await ok(person.api.GET('/v1/credits/transactions'));
        expect(history.items.filter((t) => t.kind === 'purchase' && t.orderId === orderId).map((t) => t.amount)).toEqual([pack.credits]);

        // the orders page lists it
        await page.getByRole('link', { name: at(b, 'success.orders') }).click();
        await page.locator('main h1', { hasText: at(b, 'orders.title') }).waitFor();
        const row = page.locator('.order').first();
        await row.waitFor();
        expect(await row.innerText()).toContain(pack.name[locale]);
        // with the order number the receipt shows (what to quote when writing about a payment)
        expect((await row.locator('.order-number dd').innerText()).trim()).toBe(orderId);
        expect(await row.innerText()).toContain(at(b, 'status.paid'));
        expect(await page.locator('.order').count()).toBe(1);
        await screen(page, 'billing-orders', { locale, width });

        // and so does the settings' Orders tab, inside the settings (its tabs stay)
        await visit(page, '/settings/orders');
        const tab = page.locator('section', { has: page.getByRole('heading', { name: at(texts(locale, 'settings'), 'orders.title'), exact: true, level: 2 }) });
        const inTab = tab.locator('.order');
        await inTab.first().waitFor();
        expect(await inTab.count()).toBe(1);
        expect(await inTab.getByRole('heading', { level: 3 }).innerText()).toBe(pack.name[locale]);
        expect(await inTab.innerText()).toContain(at(b, 'status.paid'));
        const sections = page.getByRole('navigation', { name: at(texts(locale, 'settings'), 'sections.label') });
        expect(await sections.getByRole('link', { name: at(texts(locale, 'settings'), 'sections.orders') }).getAttribute('aria-current')).toBe('page');
        await screen(page, 'settings-orders', { locale, width });
      });
    }, 240_000);
  }

  it('when Stripe confirms late, the success page shows the order waiting, announces the payment and the credits when they come, and the header follows', async () => {
    const person = await web.signedUp('127.0.0.106', 'web-buyer-late@example.test');
    await until(async () => ((await balance(person)) === 40 ? true : undefined), 20_000);
    const pack = [...(await ok(person.api.GET('/v1/pricing'))).packs].sort((x, y) => x.credits - y.credits)[0]!;
    const b = texts('en', 'billing');
    const { context, page, watch } = await newContext({ width: 375, locale: 'en', as: person, allowOrigins: [web.stripe.base] });
    web.stripe.holdWebhooks();
    try {
      await visit(page, '/pricing');
      await page.getByRole('button', { name: at(texts('en', 'pricing'), 'buy', { name: pack.name.en }) }).click();
      await page.waitForURL(`${web.stripe.base}/c/pay/**`);
      await page.getByRole('button', { name: 'Pay' }).click();
      await page.waitForURL(`${web.sys.gatewayUrl}/billing/success?order=**`);
      const orderId = new URL(page.url()).searchParams.get('order')!;
      const status = page.locator('.progress[role=status]');
      await status.getByText(at(b, 'success.waitingPayment')).waitFor();
      // no thanks for a purchase not paid yet
      expect((await page.locator('main h1').innerText()).trim()).toBe(at(b, 'success.pendingTitle'));
      expect(await status.getAttribute('aria-live')).toBe('polite');
      expect(await page.locator('.order-summary').innerText()).toContain(at(b, 'status.pending'));
      await screen(page, 'billing-success-waiting', { locale: 'en', width: 375 });
      // nothing paid yet, as the API says too
      expect((await ok(person.api.GET('/v1/billing/orders'))).items[0]).toMatchObject({ id: orderId, status: 'pending' });
      expect(await balance(person)).toBe(40);

      // Stripe's event arrives: the page sees it without a reload
      await web.stripe.releaseWebhooks();
      await status.getByText(at(b, 'success.done_other', { count: pack.credits })).waitFor({ timeout: 30_000 });
      await status.getByText(at(b, 'success.balance_other', { count: 40 + pack.credits })).waitFor();
      expect(await page.locator('.order-summary').innerText()).toContain(at(b, 'status.paid'));
      expect((await page.locator('main h1').innerText()).trim()).toBe(at(b, 'success.title'));
      await page.locator('.account-panel .account-balance', { hasText: `${40 + pack.credits} credits` }).waitFor({ state: 'attached' });
      expect(await balance(person)).toBe(40 + pack.credits);
      expect(watch.problems).toEqual([]);
    } finally {
      await web.stripe.releaseWebhooks();
      await context.close();
    }
  }, 240_000);

  for (const { locale, width, ip } of [
    { locale: 'zh' as const, width: 375, ip: '127.0.0.108' },
    { locale: 'en' as const, width: 1280, ip: '127.0.0.109' },
  ]) {
    it(`${locale} at ${width} px: the answer to Buy is lost after the API opened the order; Buy again goes on to that order's Stripe page: one order, one Checkout session`, async () => {
      const person = await web.signedUp(ip, `web-buyer-lost-${locale}@example.test`);
      const pricing = await ok(person.api.GET('/v1/pricing'));
      const pack = pricing.packs[0]!;
      const p = texts(locale, 'pricing');
      // the connection drops on the way back, as a mobile network does: the only sign is a failed fetch
      const lost = (m: string) => /ERR_CONNECTION_RESET|\/v1\/billing\/checkout/.test(m);
      await inContext({ width, locale, as: person, allowOrigins: [web.stripe.base], intended: lost }, async ({ page }) => {
        await visit(page, '/pricing');
        const keys: string[] = [];
        await page.route('**/v1/billing/checkout', async (route) => {
          keys.push(route.request().headers()['idempotency-key'] ?? '');
          const answer = await route.fetch();
          expect(answer.status()).toBe(201);
          await route.abort('connectionreset');
        });
        const buy = page.getByRole('button', { name: at(p, 'buy', { name: pack.name[locale] }) });
        await buy.click();
        await page.locator('.alert[role=alert]', { hasText: at(p, 'checkoutError') }).waitFor();
        await screen(page, 'pricing-checkout-lost', { locale, width });
        expect(keys).toHaveLength(1);
        expect(new URL(page.url()).pathname).toBe('/pricing');
        const first = await ok(person.api.GET('/v1/billing/orders'));
        expect(first.items).toHaveLength(1);
        await page.unroute('**/v1/billing/checkout');

        const again = page.waitForRequest((r) => new URL(r.url()).pathname === '/v1/billing/checkout');
        await buy.click();
        expect((await again).headers()['idempotency-key']).toBe(keys[0]);
        await page.waitForURL(`${web.stripe.base}/c/pay/**`);
        const orders = await ok(person.api.GET('/v1/billing/orders'));
        expect(orders.items.map((o) => o.id)).toEqual([first.items[0]!.id]);
        const sessions = [...web.stripe.sessions.values()].filter((s) => s.metadata?.orderId === first.items[0]!.id);
        expect(sessions).toHaveLength(1);
        expect(page.url().endsWith(`/c/pay/${sessions[0]!.id}`)).toBe(true);
      });
    }, 180_000);
  }

  const cancelers: { locale: Locale; width: number; ip: string; email: string }[] = [
    { locale: 'en', width: 375, ip: '127.0.0.104', email: 'web-cancel-en@example.test' },
    { locale: 'zh', width: 1280, ip: '127.0.0.105', email: 'web-cancel-zh@example.test' },
  ];
  for (const { locale, width, ip, email } of cancelers) {
    it(`${locale} at ${width} px: Cancel on Stripe Checkout → the cancel page says nothing was charged; no credits, the order not paid`, async () => {
      const person = await web.signedUp(ip, email);
      await until(async () => ((await balance(person)) === 40 ? true : undefined), 20_000);
      const pricing = await ok(person.api.GET('/v1/pricing'));
      const pack = pricing.packs.at(-1)!;
      const b = texts(locale, 'billing');
      await inContext({ width, locale, as: person, allowOrigins: [web.stripe.base] }, async ({ page }) => {
        await visit(page, '/pricing');
        await page.getByRole('button', { name: at(texts(locale, 'pricing'), 'buy', { name: pack.name[locale] }) }).click();
        await page.waitForURL(`${web.stripe.base}/c/pay/**`);
        await page.getByRole('button', { name: 'Cancel' }).click();
        await page.waitForURL(`${web.sys.gatewayUrl}/billing/cancel?order=**`);
        const orderId = new URL(page.url()).searchParams.get('order')!;
        await page.locator('main h1', { hasText: at(b, 'cancel.title') }).waitFor();
        expect(await page.locator('main').innerText()).toContain(at(b, 'cancel.text'));
        expect(await page.getByRole('link', { name: at(b, 'cancel.back') }).getAttribute('href')).toBe('/pricing');
        await screen(page, 'billing-cancel', { locale, width });

        expect(await balance(person)).toBe(40);
        const orders = await ok(person.api.GET('/v1/billing/orders'));
        expect(orders.items).toHaveLength(1);
        expect(orders.items[0]).toMatchObject({ id: orderId, packId: pack.id, paidAt: null });
        expect(orders.items[0]!.status).not.toBe('paid');

        // the orders page shows it as not paid
        await page.getByRole('link', { name: at(b, 'cancel.orders') }).click();
        const row = page.locator('.order').first();
        await row.waitFor();
        expect(await row.innerText()).toContain(at(b, `status.${orders.items[0]!.status}`));
      });
    }, 240_000);
  }

  it('signed out, the orders and success pages ask to sign in; signing in comes back to the order (not theirs: said so)', async () => {
    await inContext({ width: 375, locale: 'en' }, async ({ page }) => {
      await visit(page, '/billing/orders');
      const link = page.locator('main').getByRole('link', { name: 'Sign in' });
      expect(await link.getAttribute('href')).toBe('/sign-in?returnTo=%2Fbilling%2Forders');
      await screen(page, 'billing-orders-signed-out', { locale: 'en', width: 375 });
      const order = '0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee';
      await visit(page, `/billing/success?order=${order}`);
      // no thanks for a purchase the page cannot show; the payment does not depend on it
      expect(await page.locator('main h1').innerText()).toBe(at(texts('en', 'billing'), 'success.signedOutTitle'));
      expect(await page.locator('main').innerText()).toContain(at(texts('en', 'billing'), 'success.signedOutText'));
      expect(await page.locator('main').getByRole('link', { name: 'Sign in' }).getAttribute('href')).toBe(`/sign-in?returnTo=${encodeURIComponent(`/billing/success?order=${order}`)}`);
      // signing in there comes back to the order
      const person = await web.signedUp('127.0.0.107', 'web-return@example.test');
      await page.locator('main').getByRole('link', { name: 'Sign in' }).click();
      await page.getByLabel(at(texts('en', 'auth'), 'fields.email')).fill('web-return@example.test');
      await page.getByLabel(at(texts('en', 'auth'), 'fields.password'), { exact: true }).fill(PASSWORD);
      await page.locator('main').getByRole('button', { name: 'Sign in', exact: true }).click();
      await page.waitForURL(`${web.sys.gatewayUrl}/billing/success?order=${order}`);
      // not one of theirs: said so, nothing made up
      await page.getByText(at(texts('en', 'billing'), 'success.notFound')).waitFor();
      expect((await ok(person.api.GET('/v1/billing/orders'))).items).toEqual([]);
    });
  }, 60_000);
});
