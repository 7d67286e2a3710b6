// The back office (/back-office) in a real browser against the real system: an admin looks a person up
// with a written reason, grants goodwill credits, suspends the account; the audit log, metrics and
// fraud signals show; the API agrees. English at 1280 px, Chinese on a phone.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { ok } from '@imlab/client';
import { PASSWORD, generate, type Browser } from './browser.js';
import { grantRoles } from './system.js';
import { at, inContext as runInContext, newContext as openContext, screen, seriousViolations, startWebSystem, texts, visit as open, type ContextOptions, type PageElement, type WebSystem , type View } from './web.js';

let web: WebSystem;
let admin: Browser;
let person: Browser;

beforeAll(async () => {
  web = await startWebSystem('web-admin');
  person = await web.signedUp('127.0.0.171', 'web-admin-person@example.test');
  admin = await web.signedUp('127.0.0.170', 'web-admin-admin@example.test');
  await grantRoles(web.sys, 'web-admin-admin@example.test', ['admin']);
  expect((await admin.api.POST('/v1/auth/login', { body: { email: 'web-admin-admin@example.test', password: PASSWORD } })).response.status).toBe(200);
  // for the daily metrics: a gallery image reported as spam, and a prompt refused under the policy
  const imageId = (await generate(admin, 'a paper boat on a pond')).images[0]!.id;
  await ok(admin.api.POST('/v1/images/{id}/publish', { params: { path: { id: imageId } } }));
  await ok(person.api.POST('/v1/images/{id}/reports', { params: { path: { id: imageId } }, body: { reason: 'spam' } }));
  expect((await admin.api.POST('/v1/generations', { body: { prompt: 'a n u d e woman on a beach', count: 1 } })).error).toMatchObject({ code: 'GENERATION_CONTENT_POLICY', rule: 'sexual-explicit' });
}, 900_000);

afterAll(async () => {
  await web?.stop();
});

const newContext = (opts: ContextOptions) => openContext(web, opts);
const inContext = <T>(opts: ContextOptions, check: (view: View) => Promise<T>) => runInContext(web, opts, check);
const visit = (page: Page, p: string) => open(page, web.sys.gatewayUrl, p);

/** The texts of a date field's chosen options, in the order the page shows them. */
const selectedTexts = (field: Locator) => field.locator('select').evaluateAll((selects) => selects.map((el) => (el as unknown as { selectedOptions: PageElement[] }).selectedOptions[0]!.innerText));
/** A day chosen in a date field: year, then month, then day (the field keeps the day within the month). */
async function chooseDay(field: Locator, day: Date): Promise<void> {
  await field.locator('select.date-year').selectOption(String(day.getUTCFullYear()));
  await field.locator('select.date-month').selectOption(String(day.getUTCMonth() + 1));
  await field.locator('select.date-day').selectOption(String(day.getUTCDate()));
}

describe('/back-office', () => {
  it('looks a person up with a reason, grants goodwill credits, suspends them; the audit log shows it all', async () => {
    const a = texts('en', 'admin');
    await inContext({ width: 1280, locale: 'en', as: admin }, async ({ page }) => {
      await visit(page, '/back-office');
      const support = page.getByRole('region', { name: at(a, 'support.title') });
      // a reason is required
      await support.getByLabel(at(a, 'support.who')).fill('web-admin-person@example.test');
      await support.getByRole('button', { name: at(a, 'support.find') }).click();
      await support.getByText(at(a, 'reasonRequired')).waitFor();
      await screen(page, 'back-office-errors', { locale: 'en', width: 1280 });
      // too short still says so; a reason long enough takes the error away before any press
      await support.getByLabel(at(a, 'reason')).first().fill('ti');
      expect(await support.getByText(at(a, 'reasonRequired')).count()).toBe(1);
      await support.getByLabel(at(a, 'reason')).first().fill('ticket 301: credits missing');
      await support.getByText(at(a, 'reasonRequired')).waitFor({ state: 'detached' });
      expect(await support.getByLabel(at(a, 'reason')).first().getAttribute('aria-invalid')).toBeNull();
      await support.getByRole('button', { name: at(a, 'support.find') }).click();
      await support.getByRole('heading', { name: 'web-admin-person@example.test' }).waitFor();
      await support.getByText(at(a, 'support.balanceValue', { available: '40', held: '0' })).waitFor();
      await support.getByText(at(a, 'support.promptsHidden')).waitFor();

      const goodwill = page.getByRole('form', { name: at(a, 'goodwill.title') });
      // no amount: said at the press, gone once a whole number is typed
      await goodwill.getByRole('button', { name: at(a, 'goodwill.grant') }).click();
      await goodwill.getByText(at(a, 'goodwill.amountRequired')).waitFor();
      await goodwill.getByLabel(at(a, 'goodwill.amount')).fill('10');
      await goodwill.getByText(at(a, 'goodwill.amountRequired')).waitFor({ state: 'detached' });
      await goodwill.getByLabel(at(a, 'reason')).fill('render outage, ticket 301');
      await goodwill.getByRole('button', { name: at(a, 'goodwill.grant') }).click();
      await goodwill.getByRole('status').filter({ hasText: at(a, 'goodwill.done', { amount: '10', today: '10' }) }).waitFor();
      expect((await ok(person.api.GET('/v1/credits/balance'))).available).toBe(50);
      // the summary says so, and the form is empty again: a second click cannot grant the same credits
      await support.getByText(at(a, 'support.balanceValue', { available: '50', held: '0' })).waitFor();
      expect(await goodwill.getByLabel(at(a, 'goodwill.amount')).inputValue()).toBe('');
      expect(await goodwill.getByLabel(at(a, 'reason')).inputValue()).toBe('');

      const suspend = page.getByRole('form', { name: at(a, 'suspend.title') });
      await suspend.getByLabel(at(a, 'reason')).fill('abuse, ticket 302');
      await suspend.getByRole('button', { name: at(a, 'suspend.do') }).click();
      await page.getByRole('status').filter({ hasText: at(a, 'suspend.done') }).waitFor();
      expect((await person.api.GET('/v1/me')).response.status).toBe(401);
      // the summary's status follows, and lifting it asks for a reason of its own
      await support.locator('.facts dd', { hasText: at(a, 'support.suspended') }).waitFor();
      expect(await page.getByRole('form', { name: at(a, 'suspend.liftTitle') }).getByLabel(at(a, 'reason')).inputValue()).toBe('');

      // the audit log lists the look-up, the grant and the suspension
      const audit = page.getByRole('region', { name: at(a, 'audit.title') }).first();
      for (const action of ['support_account-viewed', 'credits_goodwill-granted', 'account_suspended']) await audit.getByText(at(a, `audit.actions.${action}`)).first().waitFor();
      await page.getByRole('region', { name: at(a, 'metrics.title') }).first().getByText(at(a, 'metrics.names.credits')).first().waitFor();
      // what was counted, in words: the sign-up bonus, not the ledger's code for it
      const metricsTable = page.getByRole('region', { name: at(a, 'metrics.title') }).last();
      await metricsTable.getByText(at(a, 'metrics.values.flow.bonus')).first().waitFor();
      // the report's reason as the report form names it, the refused prompt's rule as the policy does
      await metricsTable.getByText(at(texts('en', 'moderation'), 'reasons.spam'), { exact: true }).waitFor();
      await metricsTable.getByText('nudity or sexually explicit content', { exact: true }).waitFor();
      expect(await metricsTable.innerText()).not.toMatch(/\tbonus\t|\tspam\t|\tsexual-explicit\t|\d{4}-\d{2}-\d{2}/);
      expect(await support.locator('.facts').innerText()).toContain(at(a, 'roles.user'));
      await page.getByText(at(a, 'fraud.empty')).waitFor();
      // the metrics' period in English order and words: day, month, year
      const weekAgo = new Date(Date.now() - 6 * 86_400_000);
      const monthName = ['January', 'February', 'March', 'April', 'May', 'June', 'July', 'August', 'September', 'October', 'November', 'December'][weekAgo.getUTCMonth()];
      expect(await selectedTexts(page.getByRole('group', { name: at(a, 'metrics.from') }))).toEqual([String(weekAgo.getUTCDate()), monthName, String(weekAgo.getUTCFullYear())]);
      await screen(page, 'admin', { locale: 'en', width: 1280 });
      expect(await seriousViolations(page)).toEqual([]);
    });
  }, 240_000);

  it('zh at 375 px: the answer to a goodwill grant is lost after the ledger granted; Grant again answers that grant: credited once', async () => {
    const zh = texts('zh', 'admin');
    const recipient = await web.signedUp('127.0.0.173', 'web-admin-goodwill@example.test');
    const before = (await ok(recipient.api.GET('/v1/credits/balance'))).available;
    // the connection drops on the way back: the only sign is a failed fetch
    const lost = (p: string) => /ERR_CONNECTION_RESET|\/v1\/admin\/ledger\/goodwill/.test(p);
    await inContext({ width: 375, locale: 'zh', as: admin, intended: lost }, async ({ page }) => {
      await visit(page, '/back-office');
      const support = page.getByRole('region', { name: at(zh, 'support.title') });
      await support.getByLabel(at(zh, 'support.who')).fill('web-admin-goodwill@example.test');
      await support.getByLabel(at(zh, 'reason')).first().fill('工单 401：渲染故障');
      await support.getByRole('button', { name: at(zh, 'support.find') }).click();
      await support.getByRole('heading', { name: 'web-admin-goodwill@example.test' }).waitFor();
      const goodwill = page.getByRole('form', { name: at(zh, 'goodwill.title') });
      await goodwill.getByLabel(at(zh, 'goodwill.amount')).fill('7');
      await goodwill.getByLabel(at(zh, 'reason')).fill('渲染故障补偿，工单 401');
      let granted = 0;
      await page.route('**/v1/admin/ledger/goodwill', async (route) => {
        const answer = await route.fetch();
        expect(answer.status()).toBe(201);
        granted++;
        await route.abort('connectionreset');
      });
      await goodwill.getByRole('button', { name: at(zh, 'goodwill.grant') }).click();
      // it says pressing again is safe (the form keeps its key)
      await goodwill.getByRole('alert').getByText(at(zh, 'goodwill.noAnswer')).waitFor();
      await screen(page, 'back-office-goodwill-lost', { locale: 'zh', width: 375 });
      expect(granted).toBe(1);
      await page.unroute('**/v1/admin/ledger/goodwill');
      // the form still holds the grant; pressing again sends the same key and gets the first grant back
      await goodwill.getByRole('button', { name: at(zh, 'goodwill.grant') }).click();
      await goodwill.getByRole('status').waitFor();
      expect(await goodwill.getByRole('status').innerText()).toContain('7');
      expect(await goodwill.getByLabel(at(zh, 'goodwill.amount')).inputValue()).toBe('');
      await screen(page, 'back-office-goodwill-granted', { locale: 'zh', width: 375 });
    });
    expect((await ok(recipient.api.GET('/v1/credits/balance'))).available).toBe(before + 7);
    const history = await ok(recipient.api.GET('/v1/credits/transactions'));
    expect(history.items.filter((i) => i.kind === 'goodwill').map((i) => i.amount)).toEqual([7]);
  }, 180_000);

  it('a list that cannot load says so in its own words and offers Try again, which loads it (en 1280 px, zh 375 px)', async () => {
    const cases = [
      { locale: 'en', width: 1280, section: 'audit', path: '/v1/admin/audit', shows: 'audit.actions.support_account-viewed' },
      { locale: 'zh', width: 375, section: 'metrics', path: '/v1/admin/metrics/daily', shows: 'metrics.names.credits' },
    ] as const;
    for (const c of cases) {
      const a = texts(c.locale, 'admin');
      // the 503s are answered on purpose: anything else the page did wrong still counts
      const intended = (p: string) => p.includes('status of 503') && p.includes(c.path);
      await inContext({ width: c.width, locale: c.locale, as: admin, intended }, async ({ page }) => {
        // the service answers 503 (a problem without words of its own) until it is back
        let down = true;
        await page.route(`**${c.path}?**`, (route) =>
          down ? route.fulfill({ status: 503, contentType: 'application/problem+json', body: JSON.stringify({ type: 'about:blank', title: 'Service Unavailable', status: 503, code: 'SERVICE_UNAVAILABLE' }) }) : route.continue(),
        );
        await visit(page, '/back-office');
        const section = page.getByRole('region', { name: at(a, `${c.section}.title`) }).first();
        const alert = section.getByRole('alert');
        await alert.getByText(at(a, `${c.section}.error`)).waitFor();
        await screen(page, 'back-office-load-error', { locale: c.locale, width: c.width });
        down = false;
        await alert.getByRole('button', { name: at(texts(c.locale, 'common'), 'retry') }).click();
        await section.getByText(at(a, c.shows)).first().waitFor();
        expect(await section.getByRole('alert').count()).toBe(0);
      });
    }
  }, 180_000);

  it('in Chinese on a phone: fits, and a person without the role is told so', async () => {
    const zh = texts('zh', 'admin');
    const phone = await newContext({ width: 375, locale: 'zh', as: admin });
    try {
      await visit(phone.page, '/back-office');
      expect((await phone.page.locator('main h1').innerText()).trim()).toBe(at(zh, 'title'));
      await phone.page.getByRole('region', { name: at(zh, 'audit.title') }).first().waitFor();
      expect(await phone.page.evaluate(() => (globalThis as unknown as { document: { documentElement: { scrollWidth: number } } }).document.documentElement.scrollWidth)).toBeLessThanOrEqual(375);
      await screen(phone.page, 'admin', { locale: 'zh', width: 375 });
      // the support form's errors, on a phone
      const support = phone.page.getByRole('region', { name: at(zh, 'support.title') });
      await support.getByRole('button', { name: at(zh, 'support.find') }).click();
      await support.getByText(at(zh, 'support.whoRequired')).waitFor();
      await support.getByText(at(zh, 'reasonRequired')).waitFor();
      await screen(phone.page, 'back-office-errors', { locale: 'zh', width: 375 });
      // the metrics' period: each day as year, month and day in Chinese order and words (not the
      // browser's own date box, which reads 12/01/2026 on a Chinese page); a day without metrics
      // shows none, today's show again
      const metrics = phone.page.getByRole('region', { name: at(zh, 'metrics.title') }).first();
      const weekAgo = new Date(Date.now() - 6 * 86_400_000);
      const from = metrics.getByRole('group', { name: at(zh, 'metrics.from') });
      expect(await selectedTexts(from)).toEqual([`${weekAgo.getUTCFullYear()}年`, `${weekAgo.getUTCMonth() + 1}月`, `${weekAgo.getUTCDate()}日`]);
      const yesterday = new Date(Date.now() - 86_400_000);
      for (const field of [from, metrics.getByRole('group', { name: at(zh, 'metrics.to') })]) await chooseDay(field, yesterday);
      await metrics.getByRole('button', { name: at(zh, 'metrics.show') }).click();
      await metrics.getByText(at(zh, 'metrics.empty')).waitFor();
      await screen(phone.page, 'back-office-period', { locale: 'zh', width: 375 });
      await chooseDay(metrics.getByRole('group', { name: at(zh, 'metrics.to') }), new Date());
      await metrics.getByRole('button', { name: at(zh, 'metrics.show') }).click();
      await phone.page.getByRole('region', { name: at(zh, 'metrics.title') }).last().getByText(at(zh, 'metrics.names.credits')).first().waitFor();
      expect(await seriousViolations(phone.page)).toEqual([]);
      expect(phone.watch.problems).toEqual([]);
    } finally {
      await phone.context.close();
    }
    const other = await web.signedUp('127.0.0.172', 'web-admin-other@example.test');
    await inContext({ width: 375, locale: 'zh', as: other }, async ({ page }) => {
      await visit(page, '/back-office');
      await page.getByRole('alert').filter({ hasText: at(texts('zh', 'finance'), 'notAllowed.title') }).waitFor();
    });
  }, 120_000);
});
