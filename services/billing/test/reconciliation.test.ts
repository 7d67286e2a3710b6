import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from '@imlab/db';
import { startBilling, type Harness } from './support/harness.js';
import { stripeEvent, sessionObject, chargeObject, disputeObject, newPaymentIntentId, newDisputeId } from './support/events.js';

const PACKS = [
  { id: 'small-usd', credits: 100, price: 500, currency: 'usd', name: { en: 'Small', zh: '小包' } },
  { id: 'large-cny', credits: 300, price: 9000, currency: 'cny', name: { en: 'Large', zh: '大包' } },
];

let h: Harness;
beforeAll(async () => {
  h = await startBilling('recon', { PRICING_PACKS: JSON.stringify(PACKS) });
});
afterAll(async () => {
  await h?.close();
});

async function paid(packId: string, opts: { silentGrant?: boolean } = {}) {
  const c = await h.checkout(h.newUser(), packId);
  const pi = newPaymentIntentId();
  if (opts.silentGrant) h.ledger.silent.add(`order:${c.orderId}`);
  await h.webhook(stripeEvent('checkout.session.completed', sessionObject(c.session, { status: 'complete', payment_status: 'paid', payment_intent: pi })));
  await h.settled();
  return { ...c, pi };
}

const period = () => ({ from: new Date(Date.now() - 3600_000).toISOString(), to: new Date(Date.now() + 3600_000).toISOString() });
const recon = (q: { from: string; to: string }, roles = ['finance']) =>
  h.api('GET', `/v1/admin/billing/reconciliation?from=${encodeURIComponent(q.from)}&to=${encodeURIComponent(q.to)}`, { userId: h.newUser(), roles });

describe('GET /v1/admin/billing/reconciliation', () => {
  it('is for finance and admins only', async () => {
    const q = period();
    expect((await h.api('GET', `/v1/admin/billing/reconciliation?from=${q.from}&to=${q.to}`)).status).toBe(401);
    const asUser = await recon(q, ['user']);
    expect(asUser.status).toBe(403);
    expect(asUser.body.code).toBe('FORBIDDEN');
    expect((await recon(q, ['ops'])).status).toBe(403);
    expect((await recon(q, ['admin'])).status).toBe(200);
  });

  it('rejects a period that ends before it starts, or is not a date', async () => {
    const bad = await recon({ from: '2026-02-01T00:00:00Z', to: '2026-01-01T00:00:00Z' });
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('BILLING_RECONCILIATION_PERIOD_INVALID');
    expect((await recon({ from: 'yesterday', to: '2026-01-01T00:00:00Z' })).status).toBe(400);
  });

  it('matches each paid, refunded or disputed order against the ledger, lists mismatches and totals per currency', async () => {
    const plain = await paid('small-usd');
    const refundedCny = await paid('large-cny');
    await h.webhook(stripeEvent('charge.refunded', chargeObject({ paymentIntent: refundedCny.pi, amount: 9000, amountRefunded: 3000, currency: 'cny' })));
    const disputed = await paid('small-usd');
    const dp = newDisputeId();
    await h.webhook(stripeEvent('charge.dispute.created', disputeObject({ id: dp, paymentIntent: disputed.pi, amount: 500, status: 'needs_response', currency: 'usd' })));
    await h.webhook(stripeEvent('charge.dispute.closed', disputeObject({ id: dp, paymentIntent: disputed.pi, amount: 500, status: 'lost', currency: 'usd' })));
    const unposted = await paid('small-usd', { silentGrant: true });
    const pending = await h.checkout(h.newUser(), 'small-usd');
    const lastYear = await paid('small-usd');
    await sql`update orders set paid_at = now() - interval '400 days' where id = ${lastYear.orderId}`.execute(h.db);
    await h.settled();

    const res = await recon(period());
    expect(res.status).toBe(200);
    const byId = new Map(res.body.orders.map((o: { orderId: string }) => [o.orderId, o]));
    expect(byId.has(pending.orderId)).toBe(false);
    expect(byId.has(lastYear.orderId)).toBe(false);
    expect(byId.get(plain.orderId)).toMatchObject({ status: 'paid', matches: true, expected: { granted: 100, clawedBack: 0, restored: 0 } });
    expect(byId.get(refundedCny.orderId)).toMatchObject({
      status: 'paid',
      currency: 'cny',
      refundedAmount: 3000,
      matches: true,
      expected: { granted: 300, clawedBack: 100 },
      ledger: { granted: 300, clawedBack: 100, debt: 0 },
    });
    expect(byId.get(disputed.orderId)).toMatchObject({ status: 'disputed', disputedAmount: 500, matches: true, expected: { granted: 100, clawedBack: 100, restored: 0 } });
    expect(byId.get(unposted.orderId)).toMatchObject({ matches: false, ledger: { granted: 0 } });
    expect(res.body.mismatches).toEqual([{ orderId: unposted.orderId, reasons: ['grant not posted by the ledger'], issues: [{ kind: 'grant-missing' }] }]);

    expect(res.body.totals).toEqual([
      { currency: 'cny', orders: 1, gross: 9000, refunded: 3000, disputesLost: 0, net: 6000, tax: 0, creditsGranted: 300, creditsClawedBack: 100, creditsRestored: 0 },
      { currency: 'usd', orders: 3, gross: 1500, refunded: 0, disputesLost: 500, net: 1000, tax: 0, creditsGranted: 200, creditsClawedBack: 100, creditsRestored: 0 },
    ]);
  });

  it('lists an order Stripe reports paid with another amount or currency than its price', async () => {
    const c = await h.checkout(h.newUser(), 'small-usd');
    const pi = newPaymentIntentId();
    await h.webhook(stripeEvent('checkout.session.completed', sessionObject(c.session, { status: 'complete', payment_status: 'paid', payment_intent: pi, amount_total: 450, currency: 'eur' })));
    await h.settled();
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', amount: 500, currency: 'usd', paid_amount: 450, paid_currency: 'eur' });
    const res = await recon(period());
    expect(res.body.mismatches.find((m: { orderId: string }) => m.orderId === c.orderId)).toEqual({
      orderId: c.orderId,
      reasons: ['Stripe reported 450 eur paid for an order of 500 usd'],
      // the same, as data a page says in its reader's language
      issues: [{ kind: 'paid-differs', actual: 450, currency: 'eur', expected: 500, expectedCurrency: 'usd' }],
    });
    expect(h.logs.text()).toContain('paid amount differs from the order amount');
  });

  it('pages the orders (mismatches and totals cover the whole period) and downloads them as CSV', async () => {
    const q = period();
    const whole = await recon(q);
    const n = whole.body.orders.length;
    expect(n).toBeGreaterThan(3);
    expect(whole.body.nextCursor).toBeNull();
    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page = await h.api('GET', `/v1/admin/billing/reconciliation?from=${encodeURIComponent(q.from)}&to=${encodeURIComponent(q.to)}&limit=2${cursor ? `&cursor=${cursor}` : ''}`, { userId: h.newUser(), roles: ['finance'] });
      expect(page.status).toBe(200);
      expect(page.body.totals).toEqual(whole.body.totals);
      expect(page.body.mismatches).toEqual(whole.body.mismatches);
      seen.push(...page.body.orders.map((o: { orderId: string }) => o.orderId));
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toEqual(whole.body.orders.map((o: { orderId: string }) => o.orderId));
    const bad = await h.api('GET', `/v1/admin/billing/reconciliation?from=${encodeURIComponent(q.from)}&to=${encodeURIComponent(q.to)}&cursor=nope`, { userId: h.newUser(), roles: ['finance'] });
    expect(bad.body.code).toBe('INVALID_CURSOR');

    const csv = await fetch(`${h.base}/v1/admin/billing/reconciliation.csv?from=${encodeURIComponent(q.from)}&to=${encodeURIComponent(q.to)}`, { headers: { authorization: `Bearer ${await h.token(h.newUser(), ['finance'])}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const lines = (await csv.text()).split('\r\n');
    expect(lines[0]).toBe(
      'order_id,paid_at,status,currency,amount,tax,tax_behavior,refunded_amount,disputed_amount,expected_granted,expected_clawed_back,expected_restored,ledger_granted,ledger_clawed_back,ledger_restored,ledger_debt,matches,mismatch_reasons',
    );
    expect(lines).toHaveLength(n + 2);
    const mismatch = whole.body.mismatches[0];
    expect(lines.find((l) => l.startsWith(mismatch.orderId))).toContain(`,false,${mismatch.reasons.join('; ')}`);
  });
});
