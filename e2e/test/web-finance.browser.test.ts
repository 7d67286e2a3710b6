// Finance and ops in a real browser against the real system: the trial balance, the ledger's check
// and CSV, the month-end from Stripe to closing, the lookup from a person to their books; the staff
// pages refused to others. What the person sees, and what the API then says. Key screens in
// English and Chinese at 375 and 1280 px via screen(). (Its own file, so the browser files share
// the test run's workers more evenly: it was the longer half of web-account's.)
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Locator, Page } from 'playwright-core';
import { download as apiDownload, ok } from '@imlab/client';
import { PASSWORD, until, type Browser } from './browser.js';
import { grantRoles } from './system.js';
import { monthName } from '../../web/src/i18n/dates.js';
import { at, LOCALES, inContext as runInContext, newContext as openContext, screen, startWebSystem, texts, visit as open, WIDTHS, type ContextOptions, type Locale, type PageElement, type WebSystem , type View } from './web.js';

declare const document: { documentElement: { scrollWidth: number; clientWidth: number }; activeElement: PageElement | null };

let web: WebSystem;

beforeAll(async () => {
  web = await startWebSystem('web-finance');
}, 900_000);

afterAll(async () => {
  await web?.stop();
});

const newContext = (opts: ContextOptions) => openContext(web, opts);
const inContext = <T>(opts: ContextOptions, check: (view: View) => Promise<T>) => runInContext(web, opts, check);
const visit = (page: Page, p: string) => open(page, web.sys.gatewayUrl, p);
const financeTexts = (locale: Locale) => texts(locale, 'finance');

async function signedUpWithRoles(ip: string, email: string, roles: string[]): Promise<Browser> {
  const person = await web.signedUp(ip, email);
  await grantRoles(web.sys, email, roles);
  expect((await person.api.POST('/v1/auth/login', { body: { email, password: PASSWORD } })).response.status).toBe(200);
  expect((await ok(person.api.GET('/v1/me'))).roles).toEqual(expect.arrayContaining(roles));
  return person;
}

/** How far a scrolling region's content is wider than the region (0 or less: it all shows). */
const sidewaysOverflow = (region: Locator) => region.evaluate((el: PageElement & { scrollWidth: number; clientWidth: number }) => el.scrollWidth - el.clientWidth);
/** Chooses a month (`YYYY-MM`) in the month-end's month field: its year, then its month. */
async function chooseMonth(page: Page, f: ReturnType<typeof financeTexts>, month: string): Promise<void> {
  const field = page.getByRole('group', { name: at(f, 'monthEnd.month'), exact: true });
  await field.getByLabel(at(f, 'monthEnd.year'), { exact: true }).selectOption(month.slice(0, 4));
  await field.getByLabel(at(f, 'monthEnd.monthOfYear'), { exact: true }).selectOption(month.slice(5));
}

describe('finance and ops', () => {
  it('a finance person sees the trial balance totals, checks the ledger, reconciles, looks up a statement and downloads the CSV', async () => {
    const finance = await signedUpWithRoles('127.0.0.147', 'acct-finance@example.test', ['finance']);
    for (const locale of LOCALES) {
      for (const width of WIDTHS) {
        await inContext({ width, locale, as: finance }, async ({ page, watch }) => {
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
          if (width !== 1280) return;

          await page.getByRole('button', { name: at(f, 'verify.run') }).click();
          await page.locator('.check-ok', { hasText: at(f, 'verify.ok').split('{{')[0]!.trim() }).waitFor();

          await page.getByRole('button', { name: at(f, 'reconciliation.run') }).click();
          await page.getByText(at(f, 'reconciliation.noOrders')).waitFor();
          // an order that disagrees with the ledger is said in the page's language, from the issues'
          // data (the API's own answer, with one such order added: billing's tests make real ones)
          const odd = '01900000-0000-7000-8000-00000000abcd';
          await page.route('**/v1/admin/billing/reconciliation?**', async (route) => {
            const real = (await (await route.fetch()).json()) as Record<string, unknown>;
            const credits = { granted: 100, clawedBack: 0, restored: 0 };
            const order = { orderId: odd, status: 'paid', currency: 'usd', amount: 500, refundedAmount: 0, disputedAmount: 0, paidAt: new Date().toISOString(), tax: null, taxBehavior: null, expected: credits, ledger: { ...credits, granted: 90, debt: 0 }, matches: false };
            const issues = [
              { kind: 'paid-differs', actual: 450, currency: 'eur', expected: 500, expectedCurrency: 'usd' },
              { kind: 'granted', actual: 90, expected: 100 },
            ];
            await route.fulfill({ json: { ...real, orders: [order], mismatches: [{ orderId: odd, reasons: ['Stripe reported 450 eur paid for an order of 500 usd', 'granted 90, expected 100'], issues }] } });
          });
          await page.getByRole('button', { name: at(f, 'reconciliation.run') }).click();
          const mismatch = page.locator('.check-bad-list li', { hasText: odd });
          await mismatch.waitFor();
          const said = await mismatch.innerText();
          const eur = new Intl.NumberFormat(locale === 'zh' ? 'zh-CN' : 'en-US', { style: 'currency', currency: 'EUR' }).format(4.5);
          const usd = new Intl.NumberFormat(locale === 'zh' ? 'zh-CN' : 'en-US', { style: 'currency', currency: 'USD' }).format(5);
          expect(said).toContain(at(f, 'reconciliation.issues.paid-differs', { actual: eur, expected: usd }));
          expect(said).toContain(at(f, 'reconciliation.issues.granted', { actual: '90', expected: '100' }));
          expect(said).not.toContain(locale === 'zh' ? 'reported' : '; granted 90');
          await screen(page, 'finance-reconciliation-mismatch', { locale, width });
          await page.unroute('**/v1/admin/billing/reconciliation?**');

          const system = tb.lines.find((l) => l.accountId)!;
          await page.getByLabel(at(f, 'statement.account')).fill(system.accountId!);
          await page.getByRole('button', { name: at(f, 'statement.show') }).click();
          await page.locator('.statement-summary').waitFor();
          // the account's type and scope in the page's language, as in the trial balance
          const summary = await page.locator('.statement-summary').innerText();
          expect(summary).toContain(at(f, `trial.types.${system.type}`));
          expect(summary).toContain(at(f, 'trial.scopeSystem'));
          // the promo account gave the sign-up bonuses: each line's kind and side in words, the code beside
          const promo = tb.lines.find((l) => l.type === 'promo' && l.accountId)!;
          await page.getByLabel(at(f, 'statement.account')).fill(promo.accountId!);
          await page.getByRole('button', { name: at(f, 'statement.show') }).click();
          // (a row of the promo account's own: the account shown before cannot stand in for it)
          const row = page.getByRole('region', { name: at(f, 'statement.tableLabel') }).locator('tbody tr', { hasText: 'grant_promo' }).first();
          await row.waitFor();
          const cells = await row.locator('td').allInnerTexts();
          expect(cells[1]).toContain(at(f, 'statement.kinds.grant_promo'));
          expect(cells[1]).toContain('grant_promo');
          expect(cells[2]).toBe(at(f, 'statement.sides.debit'));
          await screen(page, 'finance-statement', { locale, width });

          const [file] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: at(f, 'csv.download') }).click()]);
          const csv = (await readFile((await file.path())!)).toString('utf8');
          const header = (await (await apiDownload(finance.options, '/v1/admin/ledger/export.csv')).text()).split('\n')[0]!;
          expect(header.startsWith('transfer_id,')).toBe(true);
          expect(csv.split('\n')[0]).toBe(header);
          expect(csv.split('\n').length).toBeGreaterThan(2);
          await screen(page, 'finance-results', { locale, width });
        });
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
        await inContext({ width, locale, as: finance }, async ({ page, watch }) => {
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

          if (locale === 'en' && width === 1280) {
            // An import that answers after another month was asked for does not take the page back
            // to its month: the page, and the close that acts on the month on screen, stay on the
            // month asked for last.
            let releaseImport: () => void = () => undefined;
            const importHeld = new Promise<void>((r) => (releaseImport = r));
            const importRoute = '**/v1/admin/billing/stripe-imports';
            let imports = 0;
            await page.route(importRoute, async (route) => {
              imports += 1;
              await importHeld;
              return route.fallback();
            });
            await chooseMonth(page, f, '2024-07');
            await page.getByRole('button', { name: at(f, 'monthEnd.import') }).click();
            await until(async () => (imports === 1 ? true : undefined));
            await chooseMonth(page, f, month);
            await page.getByRole('button', { name: at(f, 'monthEnd.show') }).click();
            releaseImport();
            // both settled: the import answered, and no report is loading
            await until(async () =>
              (await page.getByRole('button', { name: at(f, 'monthEnd.import') }).isEnabled()) && (await page.getByRole('button', { name: at(f, 'monthEnd.show') }).count()) === 1 ? true : undefined,
            );
            await page.unroute(importRoute);
            expect(await page.getByRole('button', { name: at(f, 'monthEnd.close', { month: monthName(locale, '2024-07') }) }).count()).toBe(0);
            await page.locator('.month-close p', { hasText: at(f, 'monthEnd.notOver', { month: monthName(locale, month) }).split('{{date}}')[0]! }).waitFor();
          }

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
        });
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
        await inContext({ width, locale, as: plain }, async ({ page }) => {
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
        });
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
