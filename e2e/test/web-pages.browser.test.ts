// Every page of the web app in a real browser (the real system, Chromium), at phone and desktop
// widths in English and Chinese: its heading, <html lang>, the HTTP status (404 only for an address
// no page has), nothing wider than the window, a full-page screenshot (e2e/.output/screenshots/),
// axe-core with no serious or critical violation, no console error, nothing sent anywhere but the
// gateway, no cookie but ours. Signed out: pages behind a session show their sign-in prompt.
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { at, LOCALES, inContext as runInContext, SCREENSHOTS, seriousViolations, startWebSystem, texts, visit as open, WIDTHS, type ContextOptions, type PageElement, type WebSystem , type View } from './web.js';

declare const document: { documentElement: { scrollWidth: number }; activeElement: PageElement | null };

interface PageCase {
  name: string;
  path: string;
  /** The <h1> text: [namespace, key]. */
  heading: [string, string];
  /** Where the address ends up (a redirect), if not `path`. */
  landsOn?: string;
}

const PAGES: PageCase[] = [
  { name: 'home', path: '/', heading: ['common', 'home.title'] },
  { name: 'privacy', path: '/privacy', heading: ['privacy', 'title'] },
  { name: 'terms', path: '/terms', heading: ['terms', 'title'] },
  { name: 'content-policy', path: '/content-policy', heading: ['content', 'title'] },
  { name: 'changelog', path: '/changelog', heading: ['changelog', 'title'] },
  { name: 'contact', path: '/contact', heading: ['contact', 'title'] },
  { name: 'not-found', path: '/no/such/page', heading: ['common', 'notFound.title'] },
  { name: 'gallery', path: '/gallery', heading: ['gallery', 'title'] },
  { name: 'pricing', path: '/pricing', heading: ['pricing', 'title'] },
  { name: 'sign-up', path: '/sign-up', heading: ['auth', 'signUp.title'] },
  { name: 'sign-in', path: '/sign-in', heading: ['auth', 'signIn.title'] },
  { name: 'sign-in-google-error', path: '/sign-in?error=link_requires_password', heading: ['auth', 'signIn.title'] },
  { name: 'sign-in-google-mismatch', path: '/sign-in?error=google_account_mismatch', heading: ['auth', 'signIn.title'] },
  { name: 'login', path: '/login', heading: ['auth', 'signIn.title'], landsOn: '/sign-in' },
  { name: 'verify-email', path: '/verify-email?token=not-a-real-token', heading: ['auth', 'verify.title'] },
  { name: 'forgot-password', path: '/forgot-password', heading: ['auth', 'forgot.title'] },
  { name: 'reset-password', path: '/reset-password?token=not-a-real-token', heading: ['auth', 'reset.title'] },
  { name: 'email-change', path: '/email-change?confirm=not-a-real-token', heading: ['settings', 'emailChange.title'] },
  { name: 'email-change-undo', path: '/email-change?undo=not-a-real-token', heading: ['settings', 'emailChange.undoTitle'] },
  { name: 'create', path: '/create', heading: ['create', 'title'] },
  { name: 'generation', path: '/generations/0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee', heading: ['create', 'generation.title'] },
  { name: 'library', path: '/library', heading: ['library', 'title'] },
  { name: 'settings', path: '/settings', heading: ['settings', 'title'] },
  { name: 'settings-security', path: '/settings/security', heading: ['settings', 'title'] },
  { name: 'orders', path: '/billing/orders', heading: ['billing', 'orders.title'] },
  { name: 'billing-success', path: '/billing/success?order=0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee', heading: ['billing', 'success.signedOutTitle'] },
  { name: 'billing-cancel', path: '/billing/cancel?order=0190aaaa-bbbb-7ccc-8ddd-eeeeeeeeeeee', heading: ['billing', 'cancel.title'] },
  { name: 'finance', path: '/finance', heading: ['finance', 'title'] },
  { name: 'ops', path: '/ops', heading: ['finance', 'ops.title'] },
  { name: 'moderation', path: '/moderation', heading: ['moderation', 'title'] },
  { name: 'back-office', path: '/back-office', heading: ['admin', 'title'] },
];

let web: WebSystem;

beforeAll(async () => {
  web = await startWebSystem('webpages');
}, 900_000);

afterAll(async () => {
  await web?.stop();
});

const inContext = <T>(opts: ContextOptions, check: (view: View) => Promise<T>) => runInContext(web, opts, check);
const visit = (page: Parameters<typeof open>[0], p: string) => open(page, web.sys.gatewayUrl, p);

describe('every page, at 375 and 1280 px, in English and Chinese', () => {
  for (const locale of LOCALES) {
    for (const width of WIDTHS) {
      it(`${locale} at ${width} px: renders its heading, logs no error, scrolls only down${(locale === 'en') === (width === 1280) ? ', passes axe' : ''}`, async () => {
        await inContext({ width, locale }, async ({ context, page, watch }) => {
          for (const c of PAGES) {
            const methods = c.name === 'sign-in' ? page.waitForResponse((r) => new URL(r.url()).pathname === '/v1/auth/methods') : undefined;
            const status = await visit(page, c.path);
            const where = `${c.path} (${locale}, ${width} px)`;
            // an address no page has: the app's "page not found", and the status says so too
            expect(status, where).toBe(c.name === 'not-found' ? 404 : 200);
            expect(new URL(page.url()).pathname, where).toBe(c.landsOn ?? c.path.split('?')[0]);
            expect(await page.getAttribute('html', 'lang'), where).toBe(locale === 'zh' ? 'zh-Hans' : 'en');
            expect((await page.locator('main h1').first().innerText()).trim(), where).toBe(at(texts(locale, c.heading[0]), c.heading[1]));
            expect(await page.title(), where).toContain('imagemakerlab');
            if (methods) {
              // No Google client in this system: the page offers the password only, and says so
              expect(await (await methods).json()).toEqual({ password: true, google: false });
              await page.waitForTimeout(200);
              expect(await page.locator('a.button-google').count(), where).toBe(0);
              expect(await page.locator('main .lead').innerText(), where).toBe(at(texts(locale, 'auth'), 'signIn.leadPasswordOnly'));
            }
            if (c.name === 'sign-in-google-error') await expect(page.getByRole('alert').innerText()).resolves.toContain(at(texts(locale, 'common'), 'signInErrors.link_requires_password'));
            if (c.name === 'sign-in-google-mismatch') await expect(page.getByRole('alert').innerText()).resolves.toContain(at(texts(locale, 'common'), 'signInErrors.google_account_mismatch'));
            expect(await page.evaluate(() => document.documentElement.scrollWidth), `${where}: wider than the window`).toBeLessThanOrEqual(width);
            await page.screenshot({ path: path.join(SCREENSHOTS, `${locale}-${width}-${c.name}.png`), fullPage: true });
            // axe once per page and language, at one width each (en at 1280, zh at 375): both widths and both languages are checked
            if ((locale === 'en') === (width === 1280)) expect(await seriousViolations(page), where).toEqual([]);
          }
          expect(watch.problems).toEqual([]);
          // Only our own cookie: nothing from analytics when none is configured (the default).
          expect((await context.cookies()).map((c) => c.name)).toEqual(['locale']);
        });
      }, 300_000);
    }
  }

  // The check above passes only because the pages are right: the same call finds what is wrong.
  it('the axe check finds a serious violation when a page has one', async () => {
    await inContext({ width: 1280, locale: 'en' }, async ({ page }) => {
      await visit(page, '/');
      expect(await seriousViolations(page)).toEqual([]);
      await page.evaluate(() => {
        const d = document as unknown as { createElement(tag: string): { style: { color: string }; textContent: string; setAttribute(n: string, v: string): void }; querySelector(s: string): { append(...n: unknown[]): void } };
        const button = d.createElement('button');
        const faint = d.createElement('p');
        faint.textContent = 'barely there';
        faint.style.color = '#f2f2f2';
        d.querySelector('main')!.append(button, faint);
      });
      const found = await seriousViolations(page);
      expect(found.some((v) => v.startsWith('button-name (critical)'))).toBe(true);
      expect(found.some((v) => v.startsWith('color-contrast (serious)'))).toBe(true);
    });
  });
});

