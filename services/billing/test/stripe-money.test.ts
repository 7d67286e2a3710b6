import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from '@imlab/db';
import { startBilling, type Harness } from './support/harness.js';
import { fixture } from './support/fake-stripe.js';
import { stripeEvent, sessionObject, chargeObject, disputeObject, newPaymentIntentId, newDisputeId } from './support/events.js';

// Tax-exclusive prices with Stripe Tax: the fake adds 20%, so a 500 pack is charged 600.
let h: Harness;
beforeAll(async () => {
  h = await startBilling('money', { STRIPE_AUTOMATIC_TAX: 'true', PRICES_TAX_BEHAVIOR: 'exclusive' });
});
afterAll(async () => {
  await h?.close();
});

const unix = (d: Date) => Math.floor(d.getTime() / 1000);
const at = (iso: string) => new Date(iso);
const rand = () => Math.random().toString(36).slice(2, 12);

async function paidOn(when: Date, packId = 'starter') {
  const c = await h.checkout(h.newUser(), packId);
  const pi = newPaymentIntentId();
  const session = h.stripe.sessions.get(c.order.stripe_session_id!)!;
  const ev = stripeEvent('checkout.session.completed', sessionObject(session, { status: 'complete', payment_status: 'paid', payment_intent: pi }));
  ev.created = unix(when);
  expect((await h.webhook(ev)).status).toBe(200);
  await h.settled();
  return { orderId: c.orderId, pi, total: session.amount_total as number };
}

const charge = (pi: string, amount: number, created: Date, fee: number) =>
  h.stripe.putBalanceTransaction({ type: 'charge', amount, fee, currency: 'usd', created, source: chargeObject({ paymentIntent: pi, amount, amountRefunded: 0, currency: 'usd', id: `ch_test_${rand()}` }) });
const refund = (pi: string, amount: number, created: Date) =>
  h.stripe.putBalanceTransaction({ type: 'refund', amount: -amount, currency: 'usd', created, source: { ...fixture<Record<string, unknown>>('refund'), id: `re_test_${rand()}`, payment_intent: pi, amount } });
const dispute = (pi: string, amount: number, created: Date, fee: number, category: 'dispute' | 'dispute_reversal' = 'dispute') =>
  h.stripe.putBalanceTransaction({
    type: 'adjustment',
    reportingCategory: category,
    amount: category === 'dispute' ? -amount : amount,
    fee,
    currency: 'usd',
    created,
    source: disputeObject({ id: newDisputeId(), paymentIntent: pi, amount, status: category === 'dispute' ? 'lost' : 'won', currency: 'usd' }),
  });

const finance = (path: string, roles = ['finance']) => h.api('GET', path, { userId: h.newUser(), roles });
const OCT = 'month=2026-10&tz=Asia%2FShanghai';

describe('Stripe money: import, match, tie out (a month in Asia/Shanghai)', () => {
  const ids: Record<string, string> = {};
  beforeAll(async () => {
    // October 2026 in Shanghai is [2026-09-30T16:00Z, 2026-10-31T16:00Z).
    const early = await paidOn(at('2026-09-30T10:00:00Z')); // paid in September (UTC and Shanghai), paid out in October
    const a = await paidOn(at('2026-10-03T09:00:00Z'));
    const b = await paidOn(at('2026-10-05T09:00:00Z'), 'creator');
    const lost = await paidOn(at('2026-10-12T09:00:00Z'));
    const won = await paidOn(at('2026-10-14T09:00:00Z'));
    const late = await paidOn(at('2026-10-31T15:00:00Z')); // 23:00 in Shanghai: October, not paid out yet
    Object.assign(ids, { early: early.orderId, a: a.orderId, b: b.orderId, lost: lost.orderId, won: won.orderId, late: late.orderId });
    expect(a.total).toBe(600);

    const tEarly = charge(early.pi, 600, at('2026-09-30T10:00:00Z'), 47);
    const tA = charge(a.pi, 600, at('2026-10-03T09:00:00Z'), 47);
    const tB = charge(b.pi, 2400, at('2026-10-05T09:00:00Z'), 100);
    const tBr = refund(b.pi, 2400, at('2026-10-08T09:00:00Z'));
    const p1 = h.stripe.putPayout({ id: 'po_test_oct_first', transactions: [tEarly.id, tA.id, tB.id, tBr.id] as string[], currency: 'usd', created: at('2026-10-10T09:00:00Z') });
    ids.p1 = p1.id as string;

    const tLost = charge(lost.pi, 600, at('2026-10-12T09:00:00Z'), 47);
    const tLostDp = dispute(lost.pi, 600, at('2026-10-13T09:00:00Z'), 1500);
    const tWon = charge(won.pi, 600, at('2026-10-14T09:00:00Z'), 47);
    const tWonDp = dispute(won.pi, 600, at('2026-10-15T09:00:00Z'), 1500);
    const tWonBack = dispute(won.pi, 600, at('2026-10-25T09:00:00Z'), -1500, 'dispute_reversal');
    const stranger = charge('pi_test_nobody_knows', 1000, at('2026-10-20T09:00:00Z'), 59);
    const platform = h.stripe.putBalanceTransaction({ type: 'stripe_fee', amount: -200, currency: 'usd', created: at('2026-10-21T09:00:00Z'), source: null, reportingCategory: 'fee' });
    ids.stranger = stranger.id as string;
    h.stripe.putPayout({
      id: 'po_test_oct_second',
      transactions: [tLost.id, tLostDp.id, tWon.id, tWonDp.id, tWonBack.id, stranger.id, platform.id] as string[],
      currency: 'usd',
      created: at('2026-10-30T09:00:00Z'),
    });
    const tLate = charge(late.pi, 600, at('2026-10-31T15:00:00Z'), 47);
    ids.late_txn = tLate.id as string;
  });

  it('imports a period through the list endpoints, and a second import changes nothing', async () => {
    const first = await h.api('POST', '/v1/admin/billing/stripe-imports', { userId: h.newUser(), roles: ['finance'], body: { month: '2026-10', tz: 'Asia/Shanghai' } });
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ from: '2026-09-30T16:00:00.000Z', to: '2026-10-31T16:00:00.000Z', payouts: 2 });
    const snapshot = async () => (await sql`select * from stripe_balance_transactions order by id`.execute(h.db)).rows.map((r) => ({ ...(r as Record<string, unknown>), imported_at: null, updated_at: null }));
    const rows = await snapshot();
    // 12 transactions plus each payout's own; the September charge came in through its payout.
    expect(rows).toHaveLength(14);
    const again = await h.api('POST', '/v1/admin/billing/stripe-imports', { userId: h.newUser(), roles: ['finance'], body: { month: '2026-10', tz: 'Asia/Shanghai' } });
    expect(again.status).toBe(200);
    expect(await snapshot()).toEqual(rows);
    // Only ids, amounts, fees, currencies, dates, types, statuses and source ids are kept.
    expect(Object.keys(rows[0]!).sort()).toEqual(
      ['amount', 'available_on', 'created', 'currency', 'effective_at', 'fee', 'id', 'imported_at', 'net', 'payment_intent_id', 'payout_id', 'reporting_category', 'source_id', 'status', 'type', 'updated_at'].sort(),
    );
    // The SDK asked the list endpoints with Stripe's filters and expanded the sources.
    const listCall = h.stripe.requests.find((r) => r.path === '/v1/balance_transactions' && r.query['created[gte]']);
    expect(listCall?.query).toMatchObject({ 'created[gte]': String(unix(at('2026-09-30T16:00:00Z'))), 'created[lt]': String(unix(at('2026-10-31T16:00:00Z'))), limit: '100' });
    expect(Object.entries(listCall!.query).some(([k, v]) => k.startsWith('expand[') && v === 'data.source')).toBe(true);
    expect(h.stripe.requests.some((r) => r.path === '/v1/balance_transactions' && r.query.payout === 'po_test_oct_first')).toBe(true);
    // Orders now know their charge (finance can go from a charge id to the order).
    const a = await h.order(ids.a!);
    expect(a.stripe_charge_id).toMatch(/^ch_test_/);
    expect(a.tax_amount).toBe(100);
    expect(a.paid_amount).toBe(600);
  });

  it('ties Stripe\'s payouts to net sales − fees ± timing, naming every difference', async () => {
    const res = await finance(`/v1/admin/billing/stripe-reconciliation?${OCT}`);
    expect(res.status).toBe(200);
    const usd = res.body.currencies.find((c: { currency: string }) => c.currency === 'usd');
    // Our books: five orders paid in October (Shanghai), tax-exclusive prices plus 20%.
    expect(usd).toMatchObject({ ordersPaid: 5, sales: 500 + 2000 + 500 + 500 + 500, tax: 100 + 400 + 100 + 100 + 100, paidAtStripe: 600 + 2400 + 600 + 600 + 600 });
    // Stripe, for our orders: charges, the refund, a lost dispute and a won one (−600 then +600).
    expect(usd).toMatchObject({ charges: 600 + 2400 + 600 + 600 + 600, refunds: -2400, disputes: -600 - 600 + 600, unmatched: 1000 });
    expect(usd.netSales).toBe(usd.charges + usd.refunds + usd.disputes);
    expect(usd.fees).toBe(47 + 100 + 47 + 1500 + 47 + 1500 - 1500 + 59 + 47 + 200);
    expect(usd.net).toBe(usd.netSales - usd.fees + usd.unmatched);
    // Timing: the last order is not paid out yet; September's charge was paid out in October.
    expect(usd.notYetPaidOut).toBe(600 - 47);
    expect(usd.paidOutFromEarlier).toBe(600 - 47);
    const payouts = (await sql<{ amount: number }>`select amount from stripe_payouts`.execute(h.db)).rows.reduce((s, p) => s + Number(p.amount), 0);
    expect(usd.payouts).toBe(payouts);
    expect(usd.payouts).toBe(usd.netSales - usd.fees + usd.unmatched - usd.notYetPaidOut + usd.paidOutFromEarlier);
    expect(usd).toMatchObject({ unexplained: 0, tiesOut: true });
    expect(res.body.differences).toMatchObject({ transactions: 12, unmatched: 1, timing: 2, amount: 0 });
    expect(res.body.ordersWithoutCharge).toEqual([]);
  });

  it('lists each transaction with its order, payout and differences, in pages', async () => {
    const seen: { transactionId: string; orderId: string | null; differences: { kind: string }[] }[] = [];
    let cursor: string | null = null;
    do {
      const page = await finance(`/v1/admin/billing/balance-transactions?${OCT}&limit=4${cursor ? `&cursor=${cursor}` : ''}`);
      expect(page.status).toBe(200);
      expect(page.body.items.length).toBeLessThanOrEqual(4);
      seen.push(...page.body.items);
      cursor = page.body.nextCursor;
    } while (cursor);
    expect(seen).toHaveLength(12);
    expect(new Set(seen.map((t) => t.transactionId)).size).toBe(12);
    const stranger = seen.find((t) => t.transactionId === ids.stranger)!;
    expect(stranger.orderId).toBeNull();
    expect(stranger.differences.map((d) => d.kind).sort()).toEqual(['fee', 'unmatched']);
    const late = seen.find((t) => t.transactionId === ids.late_txn)!;
    expect(late.orderId).toBe(ids.late);
    expect(late.differences).toContainEqual({ kind: 'timing', amount: -(600 - 47), explanation: 'not paid out yet (available)' });
    expect(seen.filter((t) => t.orderId !== null)).toHaveLength(10);
  });

  it('lists payouts with what explains them, and downloads every report as CSV', async () => {
    const res = await finance(`/v1/admin/billing/payouts?${OCT}`);
    expect(res.status).toBe(200);
    expect(res.body.items.map((p: { payoutId: string }) => p.payoutId)).toEqual(['po_test_oct_first', 'po_test_oct_second']);
    for (const p of res.body.items) expect(p.difference).toBe(0);
    expect(res.body.items[0]).toMatchObject({ transactions: 4, matchedToOrders: 4, gross: 600 + 600 + 2400 - 2400, fees: 47 + 47 + 100 });

    const csv = await fetch(`${h.base}/v1/admin/billing/balance-transactions.csv?${OCT}`, { headers: { authorization: `Bearer ${await h.token(h.newUser(), ['finance'])}` } });
    expect(csv.status).toBe(200);
    expect(csv.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    expect(csv.headers.get('content-disposition')).toBe('attachment; filename="stripe-balance-transactions.csv"');
    const text = await csv.text();
    const lines = text.split('\r\n');
    expect(lines[0]).toBe('transaction_id,created_at,booked_at,type,reporting_category,currency,amount,fee,net,status,source_id,payment_intent_id,order_id,payout_id,differences');
    expect(lines.at(-1)).toBe('');
    expect(lines).toHaveLength(1 + 12 + 1);
    const strangerLine = lines.find((l) => l.startsWith(`${ids.stranger},`))!;
    expect(strangerLine.split(',').slice(5, 9)).toEqual(['usd', '1000', '59', '941']);
    expect(strangerLine.endsWith(',fee:-59;unmatched:1000')).toBe(true);

    const payoutsCsv = await fetch(`${h.base}/v1/admin/billing/payouts.csv?${OCT}`, { headers: { authorization: `Bearer ${await h.token(h.newUser(), ['finance'])}` } });
    const rows = (await payoutsCsv.text()).trimEnd().split('\r\n');
    expect(rows[0]).toBe('payout_id,created_at,arrival_date,status,currency,amount,transactions,matched_to_orders,gross,fees,net,difference');
    expect(rows).toHaveLength(3);
  });

  it('closes October: its tie-out is frozen, and Stripe money for it imported later counts in November', async () => {
    const before = (await finance(`/v1/admin/billing/stripe-reconciliation?${OCT}`)).body;
    const closed = await h.api('POST', '/v1/admin/billing/periods/close', { userId: h.newUser(), roles: ['finance'], body: { month: '2026-10', tz: 'Asia/Shanghai' } });
    expect(closed.status).toBe(200);
    expect(closed.body.closed.closedAt).toEqual(expect.any(String));
    expect(closed.body.currencies).toEqual(before.currencies);
    const again = await h.api('POST', '/v1/admin/billing/periods/close', { userId: h.newUser(), roles: ['finance'], body: { month: '2026-10', tz: 'Asia/Shanghai' } });
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('FINANCE_PERIOD_CLOSED');
    const notOver = await h.api('POST', '/v1/admin/billing/periods/close', { userId: h.newUser(), roles: ['finance'], body: { month: '2099-01', tz: 'UTC' } });
    expect(notOver.body.code).toBe('FINANCE_PERIOD_NOT_OVER');

    // A late fee Stripe dates in October, imported after the close.
    const late = h.stripe.putBalanceTransaction({ type: 'stripe_fee', amount: -75, currency: 'usd', created: at('2026-10-20T09:00:00Z'), source: null, reportingCategory: 'fee' });
    expect((await h.api('POST', '/v1/admin/billing/stripe-imports', { userId: h.newUser(), roles: ['finance'], body: { month: '2026-10', tz: 'Asia/Shanghai' } })).status).toBe(200);
    const october = (await finance(`/v1/admin/billing/stripe-reconciliation?${OCT}`)).body;
    expect(october.closed).toEqual(closed.body.closed);
    expect(october.currencies).toEqual(before.currencies);
    const november = await finance('/v1/admin/billing/balance-transactions?month=2026-11&tz=Asia%2FShanghai&limit=500');
    const moved = november.body.items.find((t: { transactionId: string }) => t.transactionId === late.id);
    expect(moved).toMatchObject({ createdAt: '2026-10-20T09:00:00.000Z', bookedAt: '2026-10-31T16:00:00.000Z' });
  });

  it('imports a payout when Stripe says it is paid (payout.paid)', async () => {
    const more = await paidOn(at('2026-11-02T09:00:00Z'));
    const t = charge(more.pi, 600, at('2026-11-02T09:00:00Z'), 47);
    const payout = h.stripe.putPayout({ transactions: [t.id as string], currency: 'usd', created: at('2026-11-04T09:00:00Z') });
    expect((await h.webhook(stripeEvent('payout.paid', payout))).status).toBe(200);
    await h.settled();
    const stored = await h.db.selectFrom('stripe_payouts').selectAll().where('id', '=', payout.id as string).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ amount: 553, currency: 'usd', status: 'paid' });
    const txn = await h.db.selectFrom('stripe_balance_transactions').selectAll().where('id', '=', t.id as string).executeTakeFirstOrThrow();
    expect(txn.payout_id).toBe(payout.id);
    expect(txn.payment_intent_id).toBe(more.pi);
    const nov = await finance('/v1/admin/billing/stripe-reconciliation?month=2026-11&tz=UTC');
    expect(nov.body.currencies[0]).toMatchObject({ payouts: 553, charges: 600, fees: 47, tiesOut: true });
  });

  it('imports what became available when Stripe says so (balance.available)', async () => {
    const recent = charge('pi_test_recent_unknown', 700, new Date(Date.now() - 3600_000), 20);
    expect(await h.db.selectFrom('stripe_balance_transactions').select('id').where('id', '=', recent.id as string).executeTakeFirst()).toBeUndefined();
    expect((await h.webhook(stripeEvent('balance.available', { object: 'balance', livemode: false, available: [{ amount: 700, currency: 'usd' }], pending: [] }))).status).toBe(200);
    await h.settled();
    const stored = await h.db.selectFrom('stripe_balance_transactions').selectAll().where('id', '=', recent.id as string).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ amount: 700, fee: 20, net: 680, type: 'charge', payment_intent_id: 'pi_test_recent_unknown', payout_id: null });
    const ev = await h.db.selectFrom('stripe_events').select(['status']).where('type', '=', 'balance.available').executeTakeFirstOrThrow();
    expect(ev.status).toBe('processed');
  });

  it('follows every page of a long list (auto-pagination with starting_after)', async () => {
    for (let i = 0; i < 130; i++) charge(`pi_test_bulk_${i}`, 100 + i, new Date(Date.UTC(2026, 7, 1, 0, i)), 1);
    const res = await h.api('POST', '/v1/admin/billing/stripe-imports', { userId: h.newUser(), roles: ['finance'], body: { from: '2026-08-01', to: '2026-08-02' } });
    expect(res.status).toBe(200);
    expect(res.body.balanceTransactions).toBe(130);
    const pages = h.stripe.requests.filter((r) => r.path === '/v1/balance_transactions' && r.query['created[gte]'] === String(unix(at('2026-08-01T00:00:00Z'))));
    expect(pages).toHaveLength(2);
    expect(pages[1]!.query.starting_after).toMatch(/^txn_test_/);
  });

  it('answers problem+json for a bad period, time zone or cursor, and only to finance', async () => {
    const tz = await finance('/v1/admin/billing/stripe-reconciliation?month=2026-10&tz=Mars%2FOlympus');
    expect(tz.status).toBe(400);
    expect(tz.headers.get('content-type')).toMatch(/^application\/problem\+json/);
    expect(tz.body.code).toBe('FINANCE_TIMEZONE_INVALID');
    expect((await finance('/v1/admin/billing/stripe-reconciliation?month=2026-10&tz=%2B02%3A00')).body.code).toBe('FINANCE_TIMEZONE_INVALID');
    for (const q of ['month=2026-13', 'month=2026-10&from=2026-10-01', 'from=2026-10-05&to=2026-10-01', 'from=2026-02-30&to=2026-03-01', 'from=yesterday&to=today']) {
      const bad = await finance(`/v1/admin/billing/balance-transactions?${q}`);
      expect(bad.status, q).toBe(400);
      expect(bad.body.code, q).toBe('FINANCE_PERIOD_INVALID');
    }
    const cursor = await finance(`/v1/admin/billing/balance-transactions?${OCT}&cursor=txn_never_given`);
    expect(cursor.status).toBe(400);
    expect(cursor.body.code).toBe('INVALID_CURSOR');
    expect((await finance(`/v1/admin/billing/payouts?${OCT}`, ['user'])).status).toBe(403);
    expect((await h.api('POST', '/v1/admin/billing/stripe-imports', { userId: h.newUser(), roles: ['user'], body: { month: '2026-10' } })).status).toBe(403);
    const before = await h.count('orders');
    const badImport = await h.api('POST', '/v1/admin/billing/stripe-imports', { userId: h.newUser(), roles: ['finance'], body: { from: '2026-01-01', to: '2026-12-01' } });
    expect(badImport.body).toMatchObject({ code: 'FINANCE_PERIOD_INVALID' });
    expect(await h.count('orders')).toBe(before);
  });
});

describe('GET /v1/admin/billing/lookup', () => {
  it('goes from a charge, a PaymentIntent, an order or a person to the orders (ids only)', async () => {
    const order = await h.db.selectFrom('orders').selectAll().where('stripe_charge_id', 'is not', null).orderBy('paid_at').executeTakeFirstOrThrow();
    const byCharge = await finance(`/v1/admin/billing/lookup?chargeId=${order.stripe_charge_id}`);
    expect(byCharge.status).toBe(200);
    expect(byCharge.body.items).toEqual([{ orderId: order.id, userId: order.user_id, status: order.status, paymentIntentId: order.stripe_payment_intent_id, chargeId: order.stripe_charge_id }]);
    expect((await finance(`/v1/admin/billing/lookup?paymentIntentId=${order.stripe_payment_intent_id}`)).body.items[0].orderId).toBe(order.id);
    expect((await finance(`/v1/admin/billing/lookup?userId=${order.user_id}`)).body.items.map((o: { orderId: string }) => o.orderId)).toContain(order.id);
    expect((await finance(`/v1/admin/billing/lookup?orderId=${order.id}`)).body.items[0].chargeId).toBe(order.stripe_charge_id);
    expect((await finance('/v1/admin/billing/lookup?chargeId=ch_nobody')).status).toBe(404);
    expect((await finance(`/v1/admin/billing/lookup?orderId=${order.id}&userId=${order.user_id}`)).status).toBe(400);
    expect((await finance(`/v1/admin/billing/lookup?orderId=${order.id}`, ['user'])).status).toBe(403);
  });
});

describe('Stripe Tax at Checkout', () => {
  it('asks Stripe to compute the tax on a tax-exclusive price and stores the tax with the order', async () => {
    const c = await h.checkout(h.newUser(), 'starter');
    const create = h.stripe.requests.filter((r) => r.path === '/v1/checkout/sessions' && r.method === 'POST').at(-1)!;
    expect(create.params['automatic_tax[enabled]']).toBe('true');
    expect(create.params['line_items[0][price_data][tax_behavior]']).toBe('exclusive');
    expect(c.order.tax_behavior).toBe('exclusive');
    const pi = newPaymentIntentId();
    await h.webhook(stripeEvent('checkout.session.completed', sessionObject(h.stripe.sessions.get(c.order.stripe_session_id!)!, { status: 'complete', payment_status: 'paid', payment_intent: pi })));
    await h.settled();
    const order = await h.order(c.orderId);
    expect(order).toMatchObject({ status: 'paid', amount: 500, paid_amount: 600, tax_amount: 100 });
    // The tax is no price difference: reconciliation shows it and lists no mismatch for it.
    const now = Date.now();
    const recon = await finance(`/v1/admin/billing/reconciliation?from=${new Date(now - 60_000).toISOString()}&to=${new Date(now + 60_000).toISOString()}`);
    const line = recon.body.orders.find((o: { orderId: string }) => o.orderId === c.orderId);
    expect(line).toMatchObject({ tax: 100, taxBehavior: 'exclusive' });
    expect(recon.body.mismatches.find((m: { orderId: string }) => m.orderId === c.orderId)).toBeUndefined();
  });
});
