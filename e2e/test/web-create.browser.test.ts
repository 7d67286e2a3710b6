// Create, a generation's page and the Library in a real browser against the real system (every
// service, the render worker with a slow local renderer, the gateway serving web/dist): what the
// person sees, and what the API then says (balance, generations, images, the public gallery).
import { readFileSync } from 'node:fs';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until, type Browser } from './browser.js';
import { at, png, inContext as runInContext, screen, startWebSystem, texts, visit as open, type ContextOptions, type Locale, type WebSystem , type View } from './web.js';

interface Focused {
  id: string;
  tagName: string;
  className: string;
  type?: string;
  matches(selector: string): boolean;
}
declare const document: { activeElement: Focused | null };
declare function getComputedStyle(el: Focused): { outlineStyle: string; outlineWidth: string };

let web: WebSystem;

beforeAll(async () => {
  // A render takes 4 s (in steps that report progress): long enough to see it run and to cancel.
  web = await startWebSystem('webcreate', { LOCAL_RENDER_MS: '4000' });
}, 900_000);

afterAll(async () => {
  await web?.stop();
});

const inContext = <T>(opts: ContextOptions, check: (view: View) => Promise<T>) => runInContext(web, opts, check);
const visit = (page: Page, p: string) => open(page, web.sys.gatewayUrl, p);


async function balanceOf(person: Browser) {
  const r = await person.api.GET('/v1/credits/balance');
  expect(r.response.status).toBe(200);
  return r.data!;
}

async function generationOf(person: Browser, id: string) {
  const r = await person.api.GET('/v1/generations/{id}', { params: { path: { id } } });
  expect(r.response.status).toBe(200);
  return r.data!;
}

/** The element with focus: what it is and whether its focus ring shows. */
const focusOf = (page: Page) =>
  page.evaluate(() => {
    const el = document.activeElement!;
    const style = getComputedStyle(el);
    return { id: el.id, tag: el.tagName, className: el.className, type: el.type, ring: el.matches(':focus-visible') && style.outlineStyle !== 'none' && parseFloat(style.outlineWidth) >= 2 };
  });

/** Presses Tab until `target` has focus; every element passed on the way shows its focus ring. */
async function tabTo(page: Page, target: (f: Awaited<ReturnType<typeof focusOf>>) => boolean, what: string) {
  for (let i = 0; i < 40; i++) {
    await page.keyboard.press('Tab');
    const f = await focusOf(page);
    expect(f.ring, `focus ring on ${f.tag}#${f.id}.${f.className} (on the way to ${what})`).toBe(true);
    if (target(f)) return f;
  }
  throw new Error(`Tab never reached ${what}`);
}

const generationIdOf = (page: Page) => new URL(page.url()).pathname.split('/').pop()!;

describe('creating', () => {
  const flows: { locale: Locale; width: number; ip: string; email: string }[] = [
    { locale: 'en', width: 1280, ip: '127.0.0.120', email: 'web-create-en@example.test' },
    { locale: 'zh', width: 375, ip: '127.0.0.121', email: 'web-create-zh@example.test' },
  ];
  for (const { locale, width, ip, email } of flows) {
    it(`${locale} at ${width} px: a prompt and reference images → the generation page streams progress → the results; the balance went down by the quote`, async () => {
      const person = await web.signedUp(ip, email);
      const c = texts(locale, 'create');
      // the upload this test fails on purpose (below) is not the page's error
      const failedUpload = (p: string) => p.includes('/v1/uploads') && p.includes('503');
      await inContext({ width, locale, as: person, intended: failedUpload }, async ({ page }) => {
        await visit(page, '/create');
        await page.locator('#prompt').waitFor();
        await page.locator('.price-balance', { hasText: at(c, 'price.balance_other', { count: 40 }) }).waitFor();
        await screen(page, 'create-empty', { locale, width });

        const quoted = page.waitForResponse((r) => r.url().endsWith('/v1/generations/quote') && r.status() === 200);
        await page.locator('#prompt').fill('a lighthouse in fog, watercolor');
        // a file that is not an image: said at once, in the person's language, nothing uploaded
        await page.locator('#references').setInputFiles({ name: 'notes.txt', mimeType: 'text/plain', buffer: Buffer.from('not an image') });
        await page.locator('.ref-messages', { hasText: at(c, 'refs.wrongType', { name: 'notes.txt' }) }).waitFor();
        if (locale === 'zh') {
          // too big for the API (10 MB): said before uploading
          await page.locator('#references').setInputFiles({ name: 'huge.png', mimeType: 'image/png', buffer: Buffer.alloc(10 * 1024 * 1024 + 1) });
          await page.locator('.ref-messages', { hasText: at(c, 'refs.tooBig', { name: 'huge.png' }) }).waitFor();
          expect(await page.locator('.ref').count()).toBe(0);
        }
        // through the file input
        await page.locator('#references').setInputFiles({ name: 'harbour.png', mimeType: 'image/png', buffer: png(64, 48, [200, 80, 40]) });
        await page.locator('.ref-done').waitFor();
        expect(await page.locator('.ref img').getAttribute('src')).toMatch(/^blob:/);
        // dropped onto the drop zone (a drop event carrying a file, as a drag from the desktop makes)
        const dropped = png(32, 32, [30, 90, 160]).toString('base64');
        await page.evaluate(`(() => {
          const bytes = Uint8Array.from(atob(${JSON.stringify(dropped)}), (ch) => ch.charCodeAt(0));
          const dt = new DataTransfer();
          dt.items.add(new File([bytes], 'dropped.png', { type: 'image/png' }));
          document.querySelector('.drop-zone').dispatchEvent(new DragEvent('drop', { dataTransfer: dt, bubbles: true, cancelable: true }));
        })()`);
        await until(async () => ((await page.locator('.ref-done').count()) === 2 ? true : undefined));
        // a third, then removed again: the preview goes, focus stays in the list
        await page.locator('#references').setInputFiles({ name: 'extra.png', mimeType: 'image/png', buffer: png(16, 16, [10, 200, 10]) });
        await until(async () => ((await page.locator('.ref-done').count()) === 3 ? true : undefined));
        await page.getByRole('button', { name: at(c, 'refs.remove', { n: 3, name: 'extra.png' }) }).click();
        await until(async () => ((await page.locator('.ref').count()) === 2 ? true : undefined));
        {
          // An upload that fails is said at its image, and Create is refused at the field until it is
          // removed: it is not left out silently from a generation that is charged.
          await page.route('**/v1/uploads', (route) =>
            route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'SERVICE_UNAVAILABLE', detail: 'Uploads are paused.' }) }),
          );
          await page.locator('#references').setInputFiles({ name: 'lost.png', mimeType: 'image/png', buffer: png(16, 16, [90, 90, 90]) });
          await page.locator('.ref-failed').waitFor();
          await page.unroute('**/v1/uploads');
          await page.locator('.create-submit').click();
          const refused = page.locator('#references-error', { hasText: at(c, 'errors.failedUploads') });
          await refused.waitFor();
          await screen(page, 'create-upload-failed', { locale, width });
          expect(new URL(page.url()).pathname).toBe('/create');
          expect((await person.api.GET('/v1/generations')).data!.items).toEqual([]);
          await page.getByRole('button', { name: at(c, 'refs.remove', { n: 3, name: 'lost.png' }) }).click();
          await refused.waitFor({ state: 'detached' });
          expect(await page.locator('.ref').count()).toBe(2);
        }

        const quote = (await (await quoted).json()) as { cost: number };
        await page.locator('.price-cost', { hasText: at(c, 'price.cost_other', { count: 2 }) }).waitFor();
        expect(quote.cost).toBe(2);
        await until(async () => ((await page.locator('.price-note').count()) === 0 ? true : undefined));
        await screen(page, 'create-filled', { locale, width });

        // every value the progress bar shows, recorded in the page as it changes
        await page.evaluate(`(() => {
          window.progressSeen = [];
          new MutationObserver(() => {
            const bar = document.querySelector('[role=progressbar][aria-valuenow]');
            if (bar) window.progressSeen.push(Number(bar.getAttribute('aria-valuenow')));
          }).observe(document.body, { subtree: true, childList: true, attributes: true });
        })()`);
        await page.locator('.create-submit').click();
        await page.waitForURL(/\/generations\/[0-9a-f-]{36}$/);
        const id = generationIdOf(page);
        // progress, streamed: the bar while it runs, announced in a live region
        await page.locator('[role=progressbar]').waitFor();
        expect(await page.locator('.status-line').getAttribute('aria-live')).toBe('polite');
        await page.locator('[role=progressbar][aria-valuenow]').waitFor({ timeout: 20_000 });
        await screen(page, 'generation-running', { locale, width });
        // the results, as they land
        await page.locator('.thumbs img').first().waitFor({ timeout: 30_000 });
        await page.locator('.status-line', { hasText: at(c, 'generation.status.succeeded') }).waitFor();
        expect(await page.locator('[role=progressbar]').count()).toBe(0);
        const seen = (await page.evaluate('window.progressSeen')) as number[];
        expect(seen.some((p) => p > 0 && p < 100), `progress seen: ${seen.join(', ')}`).toBe(true);
        await screen(page, 'generation-done', { locale, width });

        const g = await generationOf(person, id);
        expect(g).toMatchObject({ status: 'succeeded', prompt: 'a lighthouse in fog, watercolor', cost: quote.cost, model: 'imlab-standard' });
        expect(g.referenceUploadIds).toHaveLength(2);
        expect(g.images).toHaveLength(1);
        expect(await page.locator('.thumbs img').getAttribute('src')).toBe(g.images[0]!.thumbUrl);
        await until(async () => {
          const b = await balanceOf(person);
          return b.available === 40 - quote.cost && b.held === 0 ? true : undefined;
        });

        // full size in a dialog; Escape closes it and focus goes back to the thumbnail
        await page.locator('.thumb').first().click();
        const dialog = page.locator('dialog.image-dialog');
        await dialog.waitFor();
        await until(async () => ((await dialog.locator('img').evaluate((img) => (img as unknown as { naturalWidth: number }).naturalWidth)) === 1024 ? true : undefined));
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });
        expect((await focusOf(page)).className).toBe('thumb');
      });
    }, 240_000);
  }

  it('zh at 1280 px: Cancel on a generation under way: the credits come back (the page says so, the API agrees)', async () => {
    const locale = 'zh';
    const width = 1280;
    const person = await web.signedUp('127.0.0.122', 'web-create-cancel@example.test');
    const c = texts(locale, 'create');
    // the first one keeps the renderer busy, so the second waits: there is time to cancel it
    const first = await person.api.POST('/v1/generations', { body: { prompt: 'a slow first one', count: 1 } });
    const second = await person.api.POST('/v1/generations', { body: { prompt: 'a garden in the rain', count: 1 } });
    expect([first.response.status, second.response.status]).toEqual([202, 202]);
    const id = second.data!.id;
    await inContext({ width, locale, as: person }, async ({ page }) => {
      await visit(page, `/generations/${id}`);
      const cancel = page.getByRole('button', { name: at(c, 'generation.cancel'), exact: true });
      await cancel.waitFor();
      await page.locator('[role=progressbar]').waitFor();
      await cancel.click();
      await page.locator('.status-line', { hasText: at(c, 'generation.creditsBack_other', { count: 2 }) }).waitFor();
      expect(await page.locator('.status-line').innerText()).toContain(at(c, 'generation.status.canceled'));
      // focus moved to the outcome (the button is gone)
      expect((await focusOf(page)).className).toContain('generation-status');
      expect(await cancel.count()).toBe(0);
      // its details say the price was not charged
      await page.locator('.details dd', { hasText: at(c, 'generation.costNotCharged', { cost: at(c, 'price.cost_other', { count: 2 }) }) }).waitFor();
      await screen(page, 'generation-canceled', { locale, width });
      expect(await generationOf(person, id)).toMatchObject({ status: 'canceled', errorCode: 'GENERATION_CANCELED' });
      // the canceled one's 2 are back; the first one's 2 are spent once it finishes
      await until(async () => {
        const b = await balanceOf(person);
        return b.available === 38 && b.held === 0 ? true : undefined;
      }, 30_000);
    });
  }, 180_000);

  it('en at 375 px: not enough credits: the 402 says how many are missing and links to /pricing?shortfall=N', async () => {
    const locale = 'en';
    const width = 375;
    const person = await web.signedUp('127.0.0.123', 'web-create-402@example.test');
    const c = texts(locale, 'create');
    // 24 of the 40 credits held: 16 left
    const spent = await person.api.POST('/v1/generations', { body: { prompt: 'four large ones', model: 'imlab-pro', aspectRatio: '3:2', count: 4 } });
    expect(spent.response.status).toBe(202);
    expect(spent.data!.cost).toBe(24);
    await inContext({ width, locale, as: person }, async ({ page }) => {
      await visit(page, '/create');
      await page.locator('#prompt').fill('a field of sunflowers');
      await page.getByRole('radio', { name: new RegExp(at(texts(locale, 'common'), 'tiers.imlab-pro.label')) }).check();
      await page.locator('#aspectRatio').selectOption('3:2');
      await page.locator('#count').selectOption('4');
      await page.locator('.price-cost', { hasText: at(c, 'price.cost_other', { count: 24 }) }).waitFor();
      await page.locator('.price-short', { hasText: at(c, 'price.short_other', { count: 8 }) }).waitFor();
      // buying is the main action now, with the shortfall; Create is still there (the balance may be behind)
      expect(await page.getByRole('link', { name: at(c, 'price.buy') }).getAttribute('href')).toBe('/pricing?shortfall=8');
      expect(await page.locator('.create-submit').getAttribute('class')).toContain('button-quiet');
      await page.locator('.create-submit').click();
      const alert = page.locator('.alert[role=alert]', { hasText: at(c, 'errors.insufficientTitle') });
      await alert.waitFor();
      expect(await alert.innerText()).toContain(at(c, 'errors.insufficient_other', { count: 8 }));
      expect(await alert.getByRole('link').getAttribute('href')).toBe('/pricing?shortfall=8');
      expect((await focusOf(page)).className).toBe('alert');
      expect(new URL(page.url()).pathname).toBe('/create');
      await screen(page, 'create-insufficient', { locale, width });
      // nothing more was held; the refused request is kept as rejected
      const b = await balanceOf(person);
      expect(b.available).toBe(16);
      const list = await person.api.GET('/v1/generations');
      expect(list.data!.items.map((g) => g.status).sort()).toEqual(expect.arrayContaining(['rejected']));
      expect(list.data!.items.find((g) => g.status === 'rejected')).toMatchObject({ errorCode: 'LEDGER_INSUFFICIENT_CREDITS', cost: 24 });
      // the link leads to the pricing page with the shortfall
      await alert.getByRole('link').click();
      await page.waitForURL(/\/pricing\?shortfall=8$/);
    });
  }, 180_000);

  it('zh at 375 px: the answer to Create is lost after the API made the generation; Create again opens that one: one generation, charged once', async () => {
    const locale = 'zh';
    const person = await web.signedUp('127.0.0.129', 'web-create-lost@example.test');
    const c = texts(locale, 'create');
    const before = (await balanceOf(person)).available;
    // the connection drops on the way back, as a mobile network does: the only sign is a failed fetch
    const lost = (p: string) => /ERR_CONNECTION_RESET|\/v1\/generations/.test(p);
    await inContext({ width: 375, locale, as: person, intended: lost }, async ({ page }) => {
      await visit(page, '/create');
      await page.locator('#prompt').fill('a lighthouse in the rain');
      let made = 0;
      await page.route('**/v1/generations', async (route) => {
        if (route.request().method() !== 'POST') return route.fallback();
        const answer = await route.fetch();
        expect(answer.status()).toBe(202);
        made++;
        await route.abort('connectionreset');
      });
      await page.locator('.create-submit').click();
      await page.locator('.alert[role=alert]', { hasText: at(c, 'errors.generic') }).waitFor();
      expect(made).toBe(1);
      expect(new URL(page.url()).pathname).toBe('/create');
      await page.unroute('**/v1/generations');
      await page.locator('.create-submit').click();
      await page.waitForURL(/\/generations\/[0-9a-f-]{36}$/);
      const id = generationIdOf(page);
      const list = (await person.api.GET('/v1/generations')).data!.items;
      expect(list.map((g) => g.id)).toEqual([id]);
      const g = await generationOf(person, id);
      expect(g.prompt).toBe('a lighthouse in the rain');
      // the hold may be placed after the 202 (the ledger's answer is waited for only so long)
      await until(async () => (before - (await balanceOf(person)).available === g.cost ? true : undefined), 10_000);
      expect((await person.api.GET('/v1/generations')).data!.items.map((x) => x.id)).toEqual([id]);
    });
  }, 180_000);

  it('zh at 1280 px and 375 px: a prompt against the content policy shows the rule in Chinese at the prompt; nothing is created or held', async () => {
    const locale = 'zh';
    const person = await web.signedUp('127.0.0.124', 'web-create-policy@example.test');
    const c = texts(locale, 'create');
    for (const width of [1280, 375]) {
      await inContext({ width, locale, as: person }, async ({ page }) => {
        await visit(page, '/create');
        // Traditional characters, spaced out: the policy reads through both.
        await page.locator('#prompt').fill('一幅 斬 首 的畫面');
        // said while writing (the quote checks the prompt) …
        const error = page.locator('#prompt-error');
        await error.waitFor();
        expect(await error.innerText()).toContain('恐怖主义宣传或血腥处决画面');
        // … and on submit, with focus on the prompt
        await page.locator('.create-submit').click();
        await until(async () => ((await focusOf(page)).id === 'prompt' ? true : undefined));
        expect(await error.innerText()).toBe('提示词违反内容政策：恐怖主义宣传或血腥处决画面。未扣除任何积分。');
        expect(await page.getAttribute('#prompt', 'aria-invalid')).toBe('true');
        expect(await page.getAttribute('#prompt', 'aria-describedby')).toContain('prompt-error');
        expect(new URL(page.url()).pathname).toBe('/create');
        await screen(page, 'create-policy', { locale, width });
        // The negative prompt is checked too, and refused at its own field.
        await page.locator('#prompt').fill('海边的灯塔');
        await page.locator('#negativePrompt').fill('n.u.d.e');
        await page.locator('.create-submit').click();
        const negativeError = page.locator('#negativePrompt-error');
        await negativeError.waitFor();
        expect(await negativeError.innerText()).toBe('反向提示词违反内容政策：裸露或露骨的色情内容。未扣除任何积分。');
        await until(async () => ((await focusOf(page)).id === 'negativePrompt' ? true : undefined));
        expect(await page.getAttribute('#negativePrompt', 'aria-invalid')).toBe('true');
        await page.locator('#negativePrompt').fill('');
        // a prompt is still required: emptied, the form says so before asking the API
        await page.locator('#prompt').fill('');
        await page.locator('.create-submit').click();
        expect(await error.innerText()).toBe(at(c, 'errors.promptRequired'));
      });
    }
    expect((await person.api.GET('/v1/generations')).data!.items).toEqual([]);
    expect(await balanceOf(person)).toEqual({ available: 40, held: 0 });
  }, 180_000);
});

describe('the library', () => {
  const flows: { locale: Locale; width: number; ip: string; email: string }[] = [
    { locale: 'en', width: 1280, ip: '127.0.0.125', email: 'web-library-en@example.test' },
    { locale: 'zh', width: 375, ip: '127.0.0.126', email: 'web-library-zh@example.test' },
  ];
  for (const { locale, width, ip, email } of flows) {
    it(`${locale} at ${width} px: empty state, then full size, download, publish → in the public gallery, unpublish, delete with confirmation → gone`, async () => {
      const person = await web.signedUp(ip, email);
      const stranger = web.person('127.0.0.130');
      const c = texts(locale, 'create');
      const l = texts(locale, 'library');
      await inContext({ width, locale, as: person }, async ({ page }) => {
        await visit(page, '/library');
        await page.locator('.empty', { hasText: at(l, 'empty') }).waitFor();
        expect(await page.getByRole('link', { name: at(l, 'emptyLink') }).getAttribute('href')).toBe('/create');
        await screen(page, 'library-empty', { locale, width });

        // one that finished, one canceled (its credits back)
        const made = await person.api.POST('/v1/generations', { body: { prompt: 'a paper boat on a pond', count: 1, seed: 7 } });
        const dropped = await person.api.POST('/v1/generations', { body: { prompt: 'a canceled idea', count: 1 } });
        expect((await person.api.POST('/v1/generations/{id}/cancel', { params: { path: { id: dropped.data!.id } } })).response.status).toBe(200);
        const done = await until(async () => {
          const g = await generationOf(person, made.data!.id);
          return g.status === 'succeeded' ? g : undefined;
        }, 30_000);
        const image = done.images[0]!;

        await visit(page, '/library');
        await until(async () => ((await page.locator('.gen-card').count()) === 2 ? true : undefined));
        const canceledCard = page.locator(`#gen-${dropped.data!.id}`);
        expect(await canceledCard.innerText()).toContain(at(c, 'reasons.GENERATION_CANCELED'));
        expect(await canceledCard.innerText()).toContain(at(c, 'generation.creditsBack_other', { count: 2 }));
        await page.locator('.thumb img').waitFor();
        await screen(page, 'library', { locale, width });

        // full size
        const thumb = page.locator(`#gen-${done.id} .thumb`);
        await thumb.click();
        const dialog = page.locator('dialog.image-dialog');
        await dialog.waitFor();
        expect(await dialog.locator('img').getAttribute('src')).toBe(image.url);
        await screen(page, 'library-image', { locale, width });

        // download: the bytes are the image's
        const [download] = await Promise.all([page.waitForEvent('download'), dialog.getByRole('link', { name: at(c, 'image.download') }).click()]);
        const saved = readFileSync((await download.path())!);
        const original = await person.call('GET', image.url);
        expect(original.status).toBe(200);
        expect(saved.equals(original.bytes)).toBe(true);
        expect(saved.subarray(1, 4).toString('ascii')).toBe('PNG');

        // publish: in the gallery for anyone; unpublish: out again
        await dialog.getByRole('button', { name: at(c, 'image.publish') }).click();
        await dialog.locator('.image-state', { hasText: at(c, 'image.published') }).waitFor();
        expect((await stranger.api.GET('/v1/gallery')).data!.items.map((i) => i.id)).toContain(image.id);
        expect((await stranger.call('GET', image.url)).status).toBe(200);
        await dialog.getByRole('button', { name: at(c, 'image.unpublish') }).click();
        await dialog.locator('.image-state', { hasText: at(c, 'image.private') }).waitFor();
        expect((await stranger.api.GET('/v1/gallery')).data!.items.map((i) => i.id)).not.toContain(image.id);
        expect((await stranger.call('GET', image.url)).status).toBe(404);

        // Escape closes; focus goes back to the thumbnail
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });
        expect((await focusOf(page)).className).toBe('thumb');

        // Publish, close the dialog before the answer and open it again: the new dialog knows the
        // request is under way (its button busy: "Publishing…"), then shows the answer, not the state the list
        // had loaded (which still says private).
        let releasePublish: () => void = () => undefined;
        const publishHeld = new Promise<void>((r) => (releasePublish = r));
        const publishRoute = `**/v1/images/${image.id}/publish`;
        await page.route(publishRoute, async (route) => {
          await publishHeld;
          return route.fallback();
        });
        await thumb.click();
        await dialog.waitFor();
        await dialog.getByRole('button', { name: at(c, 'image.publish') }).click();
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });
        await thumb.click();
        await dialog.waitFor();
        expect(await dialog.getByRole('button', { name: at(c, 'image.publishing') }).isDisabled()).toBe(true);
        await screen(page, 'library-image-publishing', { locale, width });
        releasePublish();
        await dialog.locator('.image-state', { hasText: at(c, 'image.published') }).waitFor();
        expect(await dialog.getByRole('button', { name: at(c, 'image.unpublish') }).isEnabled()).toBe(true);
        expect((await stranger.api.GET('/v1/gallery')).data!.items.map((i) => i.id)).toContain(image.id);
        await page.unroute(publishRoute);
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });

        // The gallery, through the app's own links (no reload), shows it; taken out, it shows it no
        // more on the next visit (the gallery's list is read again, not kept from before).
        const common = texts(locale, 'common');
        const inGallery = page.locator(`.gallery-grid img[src="/v1/images/${image.id}/thumb"]`);
        await page.locator('.site-header').getByRole('link', { name: at(common, 'nav.gallery'), exact: true }).click();
        await inGallery.waitFor();
        await page.locator('.site-header').getByRole('link', { name: at(common, 'account.library'), exact: true }).click();
        await thumb.click();
        await dialog.waitFor();
        await dialog.getByRole('button', { name: at(c, 'image.unpublish') }).click();
        await dialog.locator('.image-state', { hasText: at(c, 'image.private') }).waitFor();
        await page.keyboard.press('Escape');
        await dialog.waitFor({ state: 'detached' });
        await page.locator('.site-header').getByRole('link', { name: at(common, 'nav.gallery'), exact: true }).click();
        await page.locator('.gallery-grid, .gallery-page .empty').first().waitFor();
        await until(async () => ((await inGallery.count()) === 0 ? true : undefined), 5_000);
        await page.locator('.site-header').getByRole('link', { name: at(common, 'account.library'), exact: true }).click();
        await thumb.waitFor();

        // delete: a confirmation first (Keep it has focus), Escape keeps the image
        await thumb.click();
        await dialog.waitFor();
        await dialog.getByRole('button', { name: at(c, 'image.delete'), exact: true }).click();
        const confirm = page.locator('dialog.confirm-dialog');
        await confirm.waitFor();
        expect((await focusOf(page)).className).toBe('button-quiet');
        await screen(page, 'library-confirm-delete', { locale, width });
        await page.keyboard.press('Escape');
        await confirm.waitFor({ state: 'hidden' });
        expect((await person.call('GET', image.url)).status).toBe(200);
        await dialog.getByRole('button', { name: at(c, 'image.delete'), exact: true }).click();
        await confirm.getByRole('button', { name: at(c, 'image.confirmDelete') }).click();
        await dialog.waitFor({ state: 'detached' });
        await page.getByRole('status').filter({ hasText: at(c, 'image.deleted') }).waitFor({ state: 'attached' });
        expect((await focusOf(page)).className).toContain('gen-link');
        await until(async () => ((await page.locator(`#gen-${done.id} .thumb`).count()) === 0 ? true : undefined));
        const gone = await person.call('GET', image.url);
        expect(gone.status).toBe(404);
        expect(gone.body).toMatchObject({ code: 'IMAGE_NOT_FOUND' });
        expect((await generationOf(person, done.id)).images).toEqual([]);
      });
    }, 240_000);
  }
});

describe('the library, more than a page', () => {
  it('en at 375 px: Show more loads the next page with focus on the first new one (a failed page keeps the list and offers Try again); the filter narrows the list', async () => {
    const locale = 'en';
    const width = 375;
    const person = await web.signedUp('127.0.0.128', 'web-library-pages@example.test');
    const l = texts(locale, 'library');
    // 13 generations, each canceled at once (no render time spent): one more than a page
    for (let i = 1; i <= 13; i++) {
      const r = await person.api.POST('/v1/generations', { body: { prompt: `sketch number ${i}`, model: 'imlab-draft', size: '512x512', count: 1 } });
      expect(r.response.status).toBe(202);
      expect((await person.api.POST('/v1/generations/{id}/cancel', { params: { path: { id: r.data!.id } } })).response.status).toBe(200);
    }
    // the next page's 503s below are answered on purpose: anything else the page did wrong still counts
    const intended = (p: string) => p.includes('status of 503') && p.includes('cursor=');
    await inContext({ width, locale, as: person, intended }, async ({ page }) => {
      await visit(page, '/library');
      await until(async () => ((await page.locator('.gen-card').count()) === 12 ? true : undefined));
      // the next page fails first (503, after the app's own retries): the twelve stay, the failure
      // says so with Try again, and Try again brings the thirteenth
      let down = true;
      await page.route('**/v1/generations?**cursor=**', (route) =>
        down ? route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'SERVICE_UNAVAILABLE' }) }) : route.continue(),
      );
      const more = page.getByRole('button', { name: at(l, 'more') });
      await more.focus();
      await page.keyboard.press('Enter');
      const failed = page.getByRole('alert').filter({ hasText: at(l, 'failed') });
      await failed.waitFor({ timeout: 30_000 });
      expect(await page.locator('.gen-card').count()).toBe(12);
      down = false;
      await failed.getByRole('button', { name: at(texts(locale, 'common'), 'retry') }).click();
      await until(async () => ((await page.locator('.gen-card').count()) === 13 ? true : undefined));
      expect(await page.getByRole('alert').count()).toBe(0);
      await until(async () => ((await focusOf(page)).className.includes('gen-link') ? true : undefined));
      expect(await page.evaluate(() => (document.activeElement as unknown as { innerText: string }).innerText)).toBe('sketch number 1');
      expect(await more.count()).toBe(0);
      await screen(page, 'library-more', { locale, width });
      await page.locator('#filter').selectOption('succeeded');
      await page.getByText(at(l, 'noneMatch')).waitFor();
      expect(await page.locator('.gen-card').count()).toBe(0);
      await page.locator('#filter').selectOption('ended');
      expect(await page.locator('.gen-card').count()).toBe(13);
      expect((await person.api.GET('/v1/generations', { params: { query: { limit: 100 } } })).data!.items).toHaveLength(13);
      await until(async () => {
        const b = await balanceOf(person);
        return b.available === 40 && b.held === 0 ? true : undefined;
      });
    });
  }, 180_000);
});

describe('keyboard only', () => {
  it('en at 1280 px: from /create to a finished generation with Tab, arrows, typing and Enter; focus visible at every step', async () => {
    const person = await web.signedUp('127.0.0.127', 'web-create-keyboard@example.test');
    const c = texts('en', 'create');
    await inContext({ width: 1280, locale: 'en', as: person }, async ({ page }) => {
      await visit(page, '/create');
      await page.locator('#prompt').waitFor();
      await tabTo(page, (f) => f.id === 'prompt', 'the prompt');
      await page.keyboard.type('a quiet harbour at dawn');
      // the tier: the checked radio is one Tab stop; an arrow picks the next tier (Pro)
      await tabTo(page, (f) => f.type === 'radio', 'the tier');
      await page.keyboard.press('ArrowDown');
      expect(await page.getByRole('radio', { name: /Pro/ }).isChecked()).toBe(true);
      await tabTo(page, (f) => f.id === 'aspectRatio', 'the aspect ratio');
      await page.locator('.price-cost', { hasText: at(c, 'price.cost_other', { count: 4 }) }).waitFor();
      const submit = await tabTo(page, (f) => f.className.includes('create-submit'), 'Create');
      expect(submit.ring).toBe(true);
      await page.keyboard.press('Enter');
      await page.waitForURL(/\/generations\/[0-9a-f-]{36}$/);
      // the new page's heading has focus, the status is announced as it changes
      // (the loading page's heading says the same and is replaced when the generation loads: the
      // focus is on the page's heading once it settles)
      await page.locator('main h1', { hasText: at(c, 'generation.title') }).waitFor();
      await until(async () => ((await focusOf(page)).tag === 'H1' ? true : undefined));
      await page.locator('.status-line', { hasText: at(c, 'generation.status.succeeded') }).waitFor({ timeout: 40_000 });
      // the result opens with Enter and closes with Escape
      await tabTo(page, (f) => f.className === 'thumb', 'the first image');
      await page.keyboard.press('Enter');
      await page.locator('dialog.image-dialog').waitFor();
      await page.keyboard.press('Escape');
      await page.locator('dialog.image-dialog').waitFor({ state: 'detached' });
      expect((await focusOf(page)).className).toBe('thumb');
      expect(await generationOf(person, generationIdOf(page))).toMatchObject({ status: 'succeeded', model: 'imlab-pro', prompt: 'a quiet harbour at dawn', cost: 4 });
    });
  }, 180_000);
});
