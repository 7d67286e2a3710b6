// Month-end close on the running system: purchases, spending, a refund, a dispute lost and one
// won, Stripe's balance transactions and a payout in the Stripe fake; finance imports Stripe's
// money through the gateway and everything ties out — Stripe's payout to our net sales less fees
// and timing, the credit liability from start to end, revenue to the spending, the trial balance.
import { describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fetch as undiciFetch } from 'undici';
import { ok } from '@imlab/client';
import { eventually, TS_NODE_ARGS } from '@imlab/testing';
import { chargeObject, disputeObject, newDisputeId, newPaymentIntentId, sessionObject, signature, stripeEvent } from '../../services/billing/test/support/events.js';
import { fixture } from '../../services/billing/test/support/fake-stripe.js';
import { WEBHOOK_SECRET, type E2E } from './system.js';
import { PASSWORD, signUpVerified, until, type Browser } from './browser.js';

/** Addresses of its own: the strict sign-in budget and the sign-up bonus are per address. */
const IPS = { spender: '127.0.0.96', books: '127.0.0.97', refunded: '127.0.0.98', disputer: '127.0.0.99' } as const;

export function financeSuite(e2e: E2E): void {
  async function webhook(event: Record<string, unknown>): Promise<void> {
    const payload = JSON.stringify(event);
    const url = `${e2e.sys.gatewayUrl}/v1/billing/webhook`;
    const res = await undiciFetch(url, { method: 'POST', headers: { 'content-type': 'application/json', 'stripe-signature': signature(payload, WEBHOOK_SECRET) }, body: payload });
    await e2e.contract.observe('POST', url, res);
    await res.arrayBuffer();
    expect(res.status).toBe(200);
  }
  const balance = async (b: Browser) => ok(b.api.GET('/v1/credits/balance'));

  async function buy(b: Browser, packId: string) {
    const checkout = await b.api.POST('/v1/billing/checkout', { body: { packId } });
    expect(checkout.response.status).toBe(201);
    const orderId = checkout.data!.orderId;
    const session = [...e2e.stripe.sessions.values()].find((s) => JSON.stringify(s.metadata).includes(orderId))!;
    const pi = newPaymentIntentId();
    const before = (await balance(b)).available;
    await webhook(stripeEvent('checkout.session.completed', sessionObject(session, { status: 'complete', payment_status: 'paid', payment_intent: pi })));
    const amount = session.amount_total as number;
    const pack = (await ok(b.api.GET('/v1/pricing'))).packs.find((p) => p.id === packId)!;
    await eventually(async () => (await balance(b)).available === before + pack.credits, 20_000);
    const charge = e2e.stripe.putBalanceTransaction({
      type: 'charge',
      amount,
      fee: Math.round(amount * 0.029) + 30,
      currency: 'usd',
      created: new Date(),
      source: chargeObject({ paymentIntent: pi, amount, amountRefunded: 0, currency: 'usd' }),
    });
    return { orderId, pi, amount, credits: pack.credits, charge: charge.id as string };
  }

  async function spendAtLeast(b: Browser, credits: number): Promise<number> {
    let spent = 0;
    while (spent < credits) {
      const body = { prompt: 'a ledger on a desk, ink drawing', model: 'imlab-pro', size: '1536x1024', count: 4 } as const;
      const created = await b.api.POST('/v1/generations', { body });
      expect(created.response.status).toBe(202);
      await until(async () => ((await b.api.GET('/v1/generations/{id}', { params: { path: { id: created.data!.id } } })).data?.status === 'succeeded' ? true : undefined), 60_000);
      spent += created.data!.cost;
    }
    await until(async () => ((await balance(b)).held === 0 ? true : undefined), 20_000);
    return spent;
  }

  describe('month-end close', () => {
    it('ties Stripe\'s payout, the credit liability, revenue and the trial balance out on generated activity', async () => {
      const from = new Date(Date.now() - 1000).toISOString();
      const spender = e2e.browser(IPS.spender);
      const refunded = e2e.browser(IPS.refunded);
      const disputer = e2e.browser(IPS.disputer);
      await signUpVerified(e2e.sys, spender, 'spender@example.com');
      await signUpVerified(e2e.sys, refunded, 'refunded@example.com');
      await signUpVerified(e2e.sys, disputer, 'disputer@example.com');
      for (const b of [spender, refunded, disputer]) await eventually(async () => (await balance(b)).available === 40, 20_000);

      // Purchases: the spender's pack, one refunded in full, and two disputed (one lost, one won).
      const big = await buy(spender, 'creator');
      const refund = await buy(refunded, 'starter');
      const lost = await buy(disputer, 'starter');
      const won = await buy(disputer, 'starter');

      // Spending: the 40 free sign-up credits first, then the pack (first in, first out).
      const spent = await spendAtLeast(spender, 60);

      await webhook(stripeEvent('charge.refunded', chargeObject({ paymentIntent: refund.pi, amount: refund.amount, amountRefunded: refund.amount, currency: 'usd' })));
      const dpLost = newDisputeId();
      const dpWon = newDisputeId();
      await webhook(stripeEvent('charge.dispute.created', disputeObject({ id: dpLost, paymentIntent: lost.pi, amount: lost.amount, status: 'needs_response', currency: 'usd' })));
      await webhook(stripeEvent('charge.dispute.created', disputeObject({ id: dpWon, paymentIntent: won.pi, amount: won.amount, status: 'needs_response', currency: 'usd' })));
      // Both clawbacks landed before the outcomes are sent (billing applies events in any order,
      // and a dispute first seen already won takes nothing: the figures below assume it took first).
      await eventually(async () => (await balance(disputer)).available === 40, 20_000);
      await webhook(stripeEvent('charge.dispute.closed', disputeObject({ id: dpLost, paymentIntent: lost.pi, amount: lost.amount, status: 'lost', currency: 'usd' })));
      await webhook(stripeEvent('charge.dispute.closed', disputeObject({ id: dpWon, paymentIntent: won.pi, amount: won.amount, status: 'won', currency: 'usd' })));
      await eventually(async () => (await balance(disputer)).available === 40 + won.credits, 20_000);
      await eventually(async () => (await balance(refunded)).available === 40, 20_000);

      // Stripe's side: the refund, the disputes (the won one reversed later) and one payout.
      const txRefund = e2e.stripe.putBalanceTransaction({ type: 'refund', amount: -refund.amount, currency: 'usd', created: new Date(), source: { ...fixture<Record<string, unknown>>('refund'), id: `re_test_${refund.orderId.slice(0, 8)}`, payment_intent: refund.pi, amount: refund.amount } });
      const dispute = (pi: string, amount: number, category: 'dispute' | 'dispute_reversal', fee: number) =>
        e2e.stripe.putBalanceTransaction({ type: 'adjustment', reportingCategory: category, amount, fee, currency: 'usd', created: new Date(), source: disputeObject({ id: newDisputeId(), paymentIntent: pi, amount: Math.abs(amount), status: 'lost', currency: 'usd' }) });
      const txLost = dispute(lost.pi, -lost.amount, 'dispute', 1500);
      const txWon = dispute(won.pi, -won.amount, 'dispute', 1500);
      const txWonBack = dispute(won.pi, won.amount, 'dispute_reversal', -1500);
      // The payout takes everything but the won dispute's reversal (not available yet: a timing item).
      const payout = e2e.stripe.putPayout({ transactions: [big.charge, refund.charge, lost.charge, won.charge, txRefund.id, txLost.id, txWon.id] as string[], currency: 'usd', created: new Date() });
      const to = new Date(Date.now() + 3600_000).toISOString();

      const root = fileURLToPath(new URL('../..', import.meta.url));
      const books = e2e.browser(IPS.books);
      await signUpVerified(e2e.sys, books, 'month-end@example.com');
      await new Promise<void>((resolve, reject) =>
        spawn(process.execPath, [...TS_NODE_ARGS, 'services/auth/src/cli/roles.ts', 'month-end@example.com', 'finance'], { cwd: root, env: { ...e2e.sys.env, DATABASE_NAME: e2e.sys.databases.auth! }, stdio: 'ignore' }).on('exit', (c) =>
          c === 0 ? resolve() : reject(new Error(`roles exited ${c}`)),
        ),
      );
      expect((await books.api.POST('/v1/auth/login', { body: { email: 'month-end@example.com', password: PASSWORD } })).response.status).toBe(200);
      const period = { from, to, tz: 'Asia/Shanghai' };

      const imported = await books.api.POST('/v1/admin/billing/stripe-imports', { body: period });
      expect(imported.response.status).toBe(200);
      expect(imported.data).toMatchObject({ payouts: 1 });

      // Stripe's payout = net sales − fees ± timing (no unmatched item here).
      const stripe = await ok(books.api.GET('/v1/admin/billing/stripe-reconciliation', { params: { query: period } }));
      const usd = stripe.currencies.find((c) => c.currency === 'usd')!;
      const sales = big.amount + refund.amount + lost.amount + won.amount;
      expect(usd).toMatchObject({ ordersPaid: 4, charges: sales, refunds: -refund.amount, disputes: -lost.amount, unmatched: 0, payouts: payout.amount as number, unexplained: 0, tiesOut: true });
      expect(usd.notYetPaidOut).toBe(txWonBack.net as number);
      expect(usd.payouts).toBe(usd.netSales - usd.fees - usd.notYetPaidOut + usd.paidOutFromEarlier);
      expect(stripe.ordersWithoutCharge).toEqual([]);

      // The credit liability: start + sold − spent − refunded − clawed back + restored = end, and
      // revenue is the spending beyond the free credits at the creator pack's price per credit.
      const revenue = await until(async () => {
        const r = await ok(books.api.GET('/v1/admin/ledger/revenue', { params: { query: period } }));
        return r.trialBalance.tiesOut ? r : undefined;
      }, 20_000);
      const money = revenue.currencies.find((c) => c.currency === 'usd')!;
      const perCredit = big.amount / big.credits;
      expect(money).toMatchObject({
        sold: sales,
        spent: (spent - 40) * perCredit,
        refunded: refund.amount,
        clawedBack: lost.amount + won.amount,
        restored: won.amount,
        balances: true,
      });
      expect(money.openingLiability + money.sold - money.spent - money.refunded - money.clawedBack + money.restored).toBe(money.closingLiability);
      // The ledger's sales are Stripe's charges, its refunds and lost disputes are Stripe's.
      expect(money.sold).toBe(usd.charges);
      expect(money.refunded + money.clawedBack - money.restored).toBe(-(usd.refunds + usd.disputes));
      const free = revenue.currencies.find((c) => c.currency === null)!;
      expect(free.credits.spent).toBeGreaterThanOrEqual(40);

      // Every report downloads as CSV.
      const q = new URLSearchParams(period).toString();
      for (const path of ['/v1/admin/billing/balance-transactions.csv', '/v1/admin/billing/payouts.csv', '/v1/admin/ledger/revenue.csv', '/v1/admin/ledger/revenue/movements.csv']) {
        const res = await books.fetch(`${e2e.sys.gatewayUrl}${path}?${q}`);
        expect(res.status, path).toBe(200);
        expect(res.headers.get('content-type'), path).toBe('text/csv; charset=utf-8');
        expect((await res.text()).split('\r\n').length, path).toBeGreaterThan(2);
      }

      // From a Stripe charge to the person's books and back.
      const chargeId = (await ok(books.api.GET('/v1/admin/billing/lookup', { params: { query: { orderId: big.orderId } } }))).items[0]!.chargeId!;
      expect(chargeId).toMatch(/^ch_/);
      const byCharge = await ok(books.api.GET('/v1/admin/billing/lookup', { params: { query: { chargeId } } }));
      const person = byCharge.items[0]!.userId!;
      const account = await ok(books.api.GET('/v1/admin/ledger/lookup', { params: { query: { userId: person } } }));
      expect(account.orderIds).toContain(big.orderId);

      // A month that is over closes once; a second close is refused.
      const closed = await books.api.POST('/v1/admin/ledger/periods/close', { body: { month: '2026-01', tz: 'Asia/Shanghai' } });
      expect(closed.response.status).toBe(200);
      expect((await books.api.POST('/v1/admin/ledger/periods/close', { body: { month: '2026-01', tz: 'Asia/Shanghai' } })).response.status).toBe(409);
      const billingClose = await books.api.POST('/v1/admin/billing/periods/close', { body: { month: '2026-01', tz: 'Asia/Shanghai' } });
      expect(billingClose.response.status).toBe(200);
      expect(billingClose.data!.closed).not.toBeNull();
      expect((await books.api.POST('/v1/admin/billing/periods/close', { body: { month: '2026-01', tz: 'Asia/Shanghai' } })).response.status).toBe(409);
    }, 240_000);
  });
}
