import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from '@imlab/db';
import { startBilling, WEBHOOK_SECRET, type Harness } from './support/harness.js';
import { stripeEvent, sessionObject, chargeObject, disputeObject, signature, newPaymentIntentId, newDisputeId, CARDHOLDER } from './support/events.js';
import { fixture } from './support/fake-stripe.js';

let h: Harness;
beforeAll(async () => {
  h = await startBilling('webhooks');
});
afterAll(async () => {
  await h?.close();
});

/** A checkout whose completion event (paid) is ready to send. */
async function checkoutReady(userId = h.newUser(), packId = 'starter') {
  const c = await h.checkout(userId, packId);
  const pi = newPaymentIntentId();
  const completed = stripeEvent('checkout.session.completed', sessionObject(c.session, { status: 'complete', payment_status: 'paid', payment_intent: pi }));
  return { ...c, userId, pi, completed };
}

async function paidOrder(userId = h.newUser(), packId = 'starter') {
  const c = await checkoutReady(userId, packId);
  expect((await h.webhook(c.completed)).status).toBe(200);
  await h.settled();
  return c;
}

const refunded = (pi: string, amountRefunded: number, chargeId = 'ch_test_fixed') =>
  stripeEvent('charge.refunded', chargeObject({ id: chargeId, paymentIntent: pi, amount: 500, amountRefunded, currency: 'usd' }));
const dispute = (type: string, id: string, pi: string, status: string, amount = 500) =>
  stripeEvent(type, disputeObject({ id, paymentIntent: pi, amount, status, currency: 'usd' }));

/** Each command of an order names the one billing sent before it (the grant names none). */
function expectChained(orderId: string) {
  const keys = h.ledger.applied.filter((c) => c.idempotencyKey.startsWith(`order:${orderId}`));
  expect(keys.map((c) => c.after)).toEqual([undefined, ...keys.slice(0, -1).map((c) => c.idempotencyKey)]);
}

/** The reconciliation line of one order, over the last and next hour. */
async function reconLine(orderId: string) {
  const from = new Date(Date.now() - 3600_000).toISOString();
  const to = new Date(Date.now() + 3600_000).toISOString();
  const recon = await h.api('GET', `/v1/admin/billing/reconciliation?from=${from}&to=${to}`, { userId: h.newUser(), roles: ['finance'] });
  const line = recon.body.orders.find((o: { orderId: string }) => o.orderId === orderId);
  const mismatch = recon.body.mismatches.find((m: { orderId: string }) => m.orderId === orderId);
  return { ...line, reasons: mismatch?.reasons ?? [] };
}

/** What the ledger was asked to do for an order, as "kind:amount" in arrival order. */
const ledgerFor = (orderId: string) => h.ledger.applied.filter((c) => c.idempotencyKey.startsWith(`order:${orderId}`)).map((c) => `${c.kind}:${c.amount}`);

describe('POST /v1/billing/webhook signatures', () => {
  it('rejects a signature made with another secret, and stores nothing', async () => {
    const before = await h.count('stripe_events');
    const ev = stripeEvent('checkout.session.completed', { id: 'cs_x' });
    const res = await h.webhook(ev, { secret: 'whsec_someone_else_entirely_123' });
    expect(res.status).toBe(400);
    expect(res.headers.get('content-type')).toMatch(/application\/problem\+json/);
    expect(res.body.code).toBe('BILLING_WEBHOOK_SIGNATURE_INVALID');
    expect(await h.count('stripe_events')).toBe(before);
  });

  it('rejects a missing signature', async () => {
    const res = await h.webhook(stripeEvent('checkout.session.completed', { id: 'cs_x' }), { signatureHeader: null });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('BILLING_WEBHOOK_SIGNATURE_MISSING');
  });

  it('rejects a stale signature (replay outside the tolerance window)', async () => {
    const before = await h.count('stripe_events');
    const res = await h.webhook(stripeEvent('checkout.session.completed', { id: 'cs_x' }), { timestamp: Math.floor(Date.now() / 1000) - 3600 });
    expect(res.status).toBe(400);
    expect(res.body.code).toBe('BILLING_WEBHOOK_SIGNATURE_INVALID');
    expect(res.body.detail).toMatch(/tolerance/i);
    expect(await h.count('stripe_events')).toBe(before);
  });

  it('rejects a body changed after signing', async () => {
    const c = await checkoutReady();
    const signed = JSON.stringify(c.completed);
    const tampered = signed.replace('"amount_total":500', '"amount_total":5');
    expect(tampered).not.toBe(signed);
    const res = await h.webhook(c.completed, { signatureHeader: signature(signed, WEBHOOK_SECRET), rawBody: tampered });
    expect(res.status).toBe(400);
    expect(await h.count('stripe_events', sql`id = ${c.completed.id as string}`)).toBe(0);
  });
});

describe('checkout.session.completed', () => {
  it('grants the pack once and announces order.paid once, however often the event is replayed', async () => {
    const c = await checkoutReady();
    const replies = await Promise.all([h.webhook(c.completed), h.webhook(c.completed), h.webhook(c.completed)]);
    expect(replies.map((r) => r.status)).toEqual([200, 200, 200]);
    expect(replies.filter((r) => r.body.duplicate === false)).toHaveLength(1);
    // Stripe also says it with another event (the async success) and a resend later.
    await h.webhook(stripeEvent('checkout.session.async_payment_succeeded', sessionObject(c.session, { status: 'complete', payment_status: 'paid', payment_intent: c.pi })));
    await h.settled();
    await h.webhook(c.completed);
    await h.settled();

    expect(ledgerFor(c.orderId)).toEqual(['grant:100']);
    expect(h.ledger.applied.find((x) => x.idempotencyKey === `order:${c.orderId}`)).toMatchObject({ userId: c.userId, amount: 100 });
    expect(h.ledger.duplicates.filter((k) => k.includes(c.orderId))).toEqual([]);
    const order = await h.order(c.orderId);
    expect(order).toMatchObject({ status: 'paid', stripe_payment_intent_id: c.pi });
    expect(order.paid_at).toBeInstanceOf(Date);
    const paidEvents = await h.db.selectFrom('outbox').select('payload').where('name', '=', 'order.paid').execute();
    const mine = paidEvents.map((r) => r.payload as { orderId: string }).filter((p) => p.orderId === c.orderId);
    expect(mine).toEqual([{ orderId: c.orderId, userId: c.userId, credits: 100, amount: 500, currency: 'usd' }]);
  });

  it('waits for a delayed payment and grants on async_payment_succeeded', async () => {
    const c = await checkoutReady();
    await h.webhook(stripeEvent('checkout.session.completed', sessionObject(c.session, { status: 'complete', payment_status: 'unpaid', payment_intent: c.pi })));
    await h.settled();
    expect(await h.order(c.orderId)).toMatchObject({ status: 'pending', stripe_payment_intent_id: c.pi });
    expect(ledgerFor(c.orderId)).toEqual([]);

    // Delivered 40 minutes after Stripe created it (billing was down): paid when Stripe says, which
    // is what reconciliation periods and the person's order list go by.
    const succeededAt = Math.floor(Date.now() / 1000) - 2400;
    await h.webhook({ ...stripeEvent('checkout.session.async_payment_succeeded', sessionObject(c.session, { status: 'complete', payment_status: 'paid', payment_intent: c.pi })), created: succeededAt });
    await h.settled();
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', paid_at: new Date(succeededAt * 1000) });
    expect(ledgerFor(c.orderId)).toEqual(['grant:100']);
  });

  it('fails the order on async_payment_failed and grants nothing', async () => {
    const c = await checkoutReady();
    await h.webhook(stripeEvent('checkout.session.completed', sessionObject(c.session, { status: 'complete', payment_status: 'unpaid', payment_intent: c.pi })));
    await h.webhook(stripeEvent('checkout.session.async_payment_failed', sessionObject(c.session, { status: 'complete', payment_status: 'unpaid', payment_intent: c.pi })));
    await h.settled();
    expect((await h.order(c.orderId)).status).toBe('failed');
    expect(ledgerFor(c.orderId)).toEqual([]);
  });

  it('acknowledges a session that belongs to no order and changes nothing', async () => {
    const before = h.ledger.applied.length;
    const foreign = sessionObject(fixture('checkout.session') as never, { payment_status: 'paid', status: 'complete' });
    const ev = stripeEvent('checkout.session.completed', foreign);
    expect((await h.webhook(ev)).status).toBe(200);
    await h.settled();
    expect((await h.db.selectFrom('stripe_events').select('status').where('id', '=', ev.id as string).executeTakeFirstOrThrow()).status).toBe('ignored');
    expect(h.ledger.applied.length).toBe(before);
  });
});

describe('charge.refunded', () => {
  it('claws back only the newly refunded part, in proportion to the pack, and ignores replays and late older events', async () => {
    const c = await paidOrder();
    const first = refunded(c.pi, 100);
    await h.webhook(first);
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:20']);

    await h.webhook(first); // replay
    await h.webhook(refunded(c.pi, 250)); // a second partial refund: cumulative 250
    await h.settled();
    await h.webhook(refunded(c.pi, 100)); // an older state delivered late (new event id)
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:20', 'clawback:30']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 250 });

    await h.webhook(refunded(c.pi, 500));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:20', 'clawback:30', 'clawback:50']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'refunded', refunded_amount: 500 });
    const keys = h.ledger.applied.filter((x) => x.idempotencyKey.startsWith(`order:${c.orderId}:refund`)).map((x) => x.idempotencyKey);
    expect(keys).toEqual([`order:${c.orderId}:refund:100`, `order:${c.orderId}:refund:250`, `order:${c.orderId}:refund:500`]);
    expect(h.ledger.conflicts).toEqual([]);
  });

  it('applies a clawback that reaches the ledger before its grant only after the grant: no debt, no credits out of nothing', async () => {
    const c = await checkoutReady();
    const clawbackKey = `order:${c.orderId}:refund:250`;
    h.ledger.failUntilSeen.set(`order:${c.orderId}`, clawbackKey); // the grant fails until the clawback has overtaken it
    await h.webhook(refunded(c.pi, 250, 'ch_overtaken'));
    await h.webhook(c.completed);
    await h.settled();
    expect(h.ledger.outOfOrder).toContain(clawbackKey);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:50']);
    expectChained(c.orderId);
    expect({ balance: h.ledger.balance(c.userId), debt: h.ledger.debt(c.userId) }).toEqual({ balance: 50, debt: 0 });
    expect(h.ledger.conflicts).toEqual([]);
  });

  it('converges to the same state when the refund overtakes the completion', async () => {
    const inOrder = await checkoutReady();
    await h.webhook(inOrder.completed);
    await h.settled();
    await h.webhook(refunded(inOrder.pi, 250, 'ch_in_order'));
    await h.settled();

    const reordered = await checkoutReady();
    const early = refunded(reordered.pi, 250, 'ch_reordered');
    await h.webhook(early);
    await h.settled();
    expect((await h.db.selectFrom('stripe_events').select('status').where('id', '=', early.id as string).executeTakeFirstOrThrow()).status).toBe('parked');
    expect(ledgerFor(reordered.orderId)).toEqual([]);
    await h.webhook(reordered.completed);
    await h.settled();

    expect(ledgerFor(reordered.orderId)).toEqual(ledgerFor(inOrder.orderId));
    expect(ledgerFor(reordered.orderId)).toEqual(['grant:100', 'clawback:50']);
    for (const c of [inOrder, reordered]) expect({ balance: h.ledger.balance(c.userId), debt: h.ledger.debt(c.userId) }).toEqual({ balance: 50, debt: 0 });
    const [a, b] = [await h.order(inOrder.orderId), await h.order(reordered.orderId)];
    expect({ status: b.status, refunded: b.refunded_amount }).toEqual({ status: a.status, refunded: a.refunded_amount });
    expect((await h.db.selectFrom('stripe_events').select('status').where('id', '=', early.id as string).executeTakeFirstOrThrow()).status).toBe('processed');
  });

  it('converges when completions and refunds of many orders race each other through concurrent workers', async () => {
    const orders = await Promise.all(Array.from({ length: 8 }, () => checkoutReady()));
    const deliveries = orders.flatMap((c, i) => [h.webhook(c.completed), h.webhook(refunded(c.pi, 250, `ch_race_${i}`))]);
    const replies = await Promise.all(deliveries);
    expect(replies.every((r) => r.status === 200)).toBe(true);
    await h.settled();
    for (const c of orders) {
      // Whatever order the queue delivered them in, the ledger applied the grant first.
      expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:50']);
      expect({ balance: h.ledger.balance(c.userId), debt: h.ledger.debt(c.userId) }).toEqual({ balance: 50, debt: 0 });
      expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 250 });
    }
    expect(await h.count('stripe_events', sql`status = 'parked'`)).toBe(0);
  });

  it('claws back the full pack even when the credits were already spent: the ledger records the rest as debt', async () => {
    const c = await paidOrder();
    h.ledger.spend(c.userId, 80);
    await h.webhook(refunded(c.pi, 500));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect(h.ledger.balance(c.userId)).toBe(0);
    expect(h.ledger.debt(c.userId)).toBe(80);
    const posted = await h.db.selectFrom('ledger_postings').selectAll().where('order_id', '=', c.orderId).where('kind', '=', 'clawback').executeTakeFirstOrThrow();
    expect(posted).toMatchObject({ amount: 20, debt: 80 });

    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const recon = await h.api('GET', `/v1/admin/billing/reconciliation?from=${from}&to=${to}`, { userId: h.newUser(), roles: ['finance'] });
    const line = recon.body.orders.find((o: { orderId: string }) => o.orderId === c.orderId);
    expect(line).toMatchObject({ matches: true, expected: { granted: 100, clawedBack: 100, restored: 0 }, ledger: { granted: 100, clawedBack: 100, debt: 80 } });
  });
});

describe('disputes', () => {
  it('claws back when a dispute opens and keeps it clawed back when the dispute is lost', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await h.webhook(dispute('charge.dispute.created', dp, c.pi, 'needs_response'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect((await h.order(c.orderId)).status).toBe('disputed');

    await h.webhook(dispute('charge.dispute.funds_withdrawn', dp, c.pi, 'needs_response'));
    await h.webhook(dispute('charge.dispute.updated', dp, c.pi, 'under_review'));
    await h.settled();
    await h.webhook(dispute('charge.dispute.closed', dp, c.pi, 'lost'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect((await h.order(c.orderId)).status).toBe('disputed');
  });

  it('restores the credits once when the dispute is won and the funds come back', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await h.webhook(dispute('charge.dispute.created', dp, c.pi, 'needs_response'));
    await h.settled();
    await h.webhook(dispute('charge.dispute.funds_reinstated', dp, c.pi, 'won'));
    await h.webhook(dispute('charge.dispute.closed', dp, c.pi, 'won'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100']);
    expect((await h.order(c.orderId)).status).toBe('paid');
    expect(h.ledger.balance(c.userId)).toBe(100);
  });

  it('restores a won dispute by first cancelling the debt its clawback left, and the books still match', async () => {
    const c = await paidOrder();
    h.ledger.spend(c.userId, 70);
    const dp = newDisputeId();
    await h.webhook(dispute('charge.dispute.created', dp, c.pi, 'needs_response'));
    await h.settled();
    expect(h.ledger.debt(c.userId)).toBe(70);
    await h.webhook(dispute('charge.dispute.closed', dp, c.pi, 'won'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100']);
    expect(h.ledger.debt(c.userId)).toBe(0);
    expect(h.ledger.balance(c.userId)).toBe(30);

    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const recon = await h.api('GET', `/v1/admin/billing/reconciliation?from=${from}&to=${to}`, { userId: h.newUser(), roles: ['finance'] });
    const line = recon.body.orders.find((o: { orderId: string }) => o.orderId === c.orderId);
    expect(line).toMatchObject({ matches: true, status: 'paid', expected: { granted: 100, clawedBack: 100, restored: 100 }, ledger: { granted: 100, clawedBack: 100, restored: 100 } });
  });

  it('takes nothing for a dispute first reported already won, whichever of its events comes next', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await h.webhook(dispute('charge.dispute.closed', dp, c.pi, 'won'));
    await h.settled();
    await h.webhook(dispute('charge.dispute.created', dp, c.pi, 'needs_response'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100']);
    expect((await h.order(c.orderId)).status).toBe('paid');
    expect(h.ledger.balance(c.userId)).toBe(100);
  });
});

describe('refunds that fail or are canceled at Stripe', () => {
  /** A refund of the order as Stripe holds it, reported by a charge.refunded with `cumulative` refunded. */
  const refundReported = async (pi: string, r: { id: string; amount: number; status: string }, cumulative: number) => {
    h.stripe.putRefund({ ...r, paymentIntent: pi });
    await h.webhook(refunded(pi, cumulative, `ch_${r.id}`));
    await h.settled();
  };

  it('gives back what a failed refund took, ignores stale refund events after it, and counts later refunds from Stripe', async () => {
    const c = await paidOrder();
    const re1 = `re_test_${c.orderId.slice(0, 8)}_1`;
    await refundReported(c.pi, { id: re1, amount: 250, status: 'succeeded' }, 250);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:50']);

    // The card was closed: the refund fails and the money goes back to the merchant.
    const failed = stripeEvent('charge.refund.updated', h.stripe.putRefund({ id: re1, paymentIntent: c.pi, amount: 250, status: 'failed' }));
    await h.webhook(failed);
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:50', 'restore:50']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 0 });
    expect((await h.order(c.orderId)).refund_failed_at).not.toBeNull();
    expect(h.ledger.balance(c.userId)).toBe(100);

    // The same failure again (replay, and the newer refund.failed event), and the charge's old
    // state delivered late: nothing moves.
    await h.webhook(failed);
    await h.webhook(stripeEvent('refund.failed', h.stripe.putRefund({ id: re1, paymentIntent: c.pi, amount: 250, status: 'failed' })));
    await h.webhook(refunded(c.pi, 250, 'ch_fails'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:50', 'restore:50']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 0 });

    // A new refund of 100: whatever cumulative amount the charge reports, Stripe's list says 100 is refunded.
    await refundReported(c.pi, { id: `${re1}_2`, amount: 100, status: 'succeeded' }, 350);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:50', 'restore:50', 'clawback:20']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 100 });

    // The first refund retried by the merchant for the same 250: counted again, under a new key.
    await refundReported(c.pi, { id: `${re1}_3`, amount: 250, status: 'succeeded' }, 600);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:50', 'restore:50', 'clawback:20', 'clawback:50']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 350 });
    expect({ balance: h.ledger.balance(c.userId), debt: h.ledger.debt(c.userId) }).toEqual({ balance: 30, debt: 0 });
    expectChained(c.orderId);
    expect(h.ledger.conflicts).toEqual([]);
  });

  it('restores a full refund that was canceled, and the order is paid again', async () => {
    const c = await paidOrder();
    const re = `re_test_${c.orderId.slice(0, 8)}_full`;
    await refundReported(c.pi, { id: re, amount: 500, status: 'pending' }, 500);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'refunded', refunded_amount: 500 });

    await h.webhook(stripeEvent('refund.updated', h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 500, status: 'canceled' })));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 0 });
    expectChained(c.orderId);
  });

  it('a pending refund failed because the charge was disputed: the dispute takes what the refund gave back, and a won dispute returns it', async () => {
    const c = await paidOrder();
    const re = `re_test_${c.orderId.slice(0, 8)}_disputed`;
    const dp = newDisputeId();
    h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 500, status: 'pending' });
    // The refund is applied before the dispute arrives (in the other order the dispute takes the
    // pack and the refund's failure has nothing to give back: a different, also correct, ledger).
    await h.webhook(refunded(c.pi, 500, 'ch_refund_disputed'));
    await h.settled();
    await h.webhook(dispute('charge.dispute.created', dp, c.pi, 'needs_response'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect(h.ledger.applied.at(-1)?.idempotencyKey).toBe(`order:${c.orderId}:refund:500`); // the refund took the pack

    await h.webhook(stripeEvent('charge.refund.updated', { ...h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 500, status: 'failed' }), failure_reason: 'charge_for_pending_refund_disputed' }));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100', 'clawback:100']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'disputed', refunded_amount: 0 });
    expect(h.ledger.balance(c.userId)).toBe(0);

    await h.webhook(dispute('charge.dispute.closed', dp, c.pi, 'won'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100', 'clawback:100', 'restore:100']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 0 });
    expect({ balance: h.ledger.balance(c.userId), debt: h.ledger.debt(c.userId) }).toEqual({ balance: 100, debt: 0 });
    expectChained(c.orderId);
  });

  it('the same facts with the dispute applied before the refund: the dispute takes the pack, the failed refund gives nothing back, the won dispute returns it', async () => {
    const c = await paidOrder();
    const re = `re_test_${c.orderId.slice(0, 8)}_disputed_first`;
    const dp = newDisputeId();
    await h.webhook(dispute('charge.dispute.created', dp, c.pi, 'needs_response'));
    await h.settled();
    h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 500, status: 'pending' });
    await h.webhook(refunded(c.pi, 500, 'ch_dispute_first'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect(h.ledger.applied.at(-1)?.idempotencyKey).toBe(`order:${c.orderId}:dispute:${dp}`);

    await h.webhook(stripeEvent('refund.failed', { ...h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 500, status: 'failed' }), failure_reason: 'charge_for_pending_refund_disputed' }));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'disputed', refunded_amount: 0 });

    await h.webhook(dispute('charge.dispute.closed', dp, c.pi, 'won'));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100']);
    expect({ balance: h.ledger.balance(c.userId), debt: h.ledger.debt(c.userId) }).toEqual({ balance: 100, debt: 0 });
    expectChained(c.orderId);
  });

  it('ignores refund updates that undo nothing (pending to succeeded), without asking Stripe', async () => {
    const c = await paidOrder();
    const re = `re_test_${c.orderId.slice(0, 8)}_ok`;
    await refundReported(c.pi, { id: re, amount: 100, status: 'succeeded' }, 100);
    const lists = h.stripe.requests.filter((r) => r.path === '/v1/refunds' && r.method === 'GET').length;
    const ev = stripeEvent('charge.refund.updated', h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 100, status: 'succeeded' }));
    await h.webhook(ev);
    await h.settled();
    expect(await h.count('stripe_events', sql`id = ${ev.id as string} and status = 'ignored'`)).toBe(1);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:20']);
    expect((await h.order(c.orderId)).refund_failed_at).toBeNull();
    expect(h.stripe.requests.filter((r) => r.path === '/v1/refunds' && r.method === 'GET').length).toBe(lists);
  });

  it('keeps no cardholder data from a refund event', async () => {
    const c = await paidOrder();
    const re = `re_test_${c.orderId.slice(0, 8)}_pii`;
    h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 100, status: 'succeeded' });
    const ev = stripeEvent('charge.refund.updated', { ...h.stripe.putRefund({ id: re, paymentIntent: c.pi, amount: 100, status: 'failed' }), receipt_number: '1234-5678', description: CARDHOLDER.email });
    await h.webhook(ev);
    await h.settled();
    const stored = await h.db.selectFrom('stripe_events').selectAll().where('id', '=', ev.id as string).executeTakeFirstOrThrow();
    expect(JSON.stringify(stored)).not.toContain(CARDHOLDER.email);
    expect(JSON.stringify(stored)).not.toContain('1234-5678');
    expect(stored).toMatchObject({ object_id: re, object_status: 'failed', amount: 100, payment_intent_id: c.pi });
  });
});

describe('refunds and disputes on the same order never take more than the pack', () => {
  const net = (orderId: string) =>
    h.ledger.applied.filter((x) => x.idempotencyKey.startsWith(`order:${orderId}`)).reduce((s, x) => s + (x.kind === 'clawback' ? x.amount : x.kind === 'restore' ? -x.amount : 0), 0);
  const reconLine = async (orderId: string) => {
    const from = new Date(Date.now() - 3600_000).toISOString();
    const to = new Date(Date.now() + 3600_000).toISOString();
    const recon = await h.api('GET', `/v1/admin/billing/reconciliation?from=${from}&to=${to}`, { userId: h.newUser(), roles: ['finance'] });
    return recon.body.orders.find((o: { orderId: string }) => o.orderId === orderId);
  };
  /** Sends each event and lets it settle before the next, so the order of arrival is the one given. */
  const deliver = async (events: Record<string, unknown>[]) => {
    for (const ev of events) {
      expect((await h.webhook(ev)).status).toBe(200);
      await h.settled();
    }
  };

  it('full refund, then a dispute on the refunded charge that is lost: the dispute takes nothing', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await deliver([refunded(c.pi, 500), dispute('charge.dispute.created', dp, c.pi, 'needs_response'), dispute('charge.dispute.closed', dp, c.pi, 'lost')]);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect(h.ledger.balance(c.userId)).toBe(0);
    expect(h.ledger.debt(c.userId)).toBe(0);
    expect(await reconLine(c.orderId)).toMatchObject({ matches: true, expected: { granted: 100, clawedBack: 100, restored: 0 } });
  });

  it('partial refund, then a dispute lost for the whole charge: the dispute takes only what the refund left', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await deliver([refunded(c.pi, 200), dispute('charge.dispute.created', dp, c.pi, 'needs_response'), dispute('charge.dispute.closed', dp, c.pi, 'lost')]);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:40', 'clawback:60']);
    expect(net(c.orderId)).toBe(100);
    expect(await reconLine(c.orderId)).toMatchObject({ matches: true, expected: { clawedBack: 100, restored: 0 } });
  });

  it('partial refund, then a dispute won: the restore gives back only what the dispute took', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await deliver([refunded(c.pi, 200), dispute('charge.dispute.created', dp, c.pi, 'needs_response'), dispute('charge.dispute.closed', dp, c.pi, 'won')]);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:40', 'clawback:60', 'restore:60']);
    expect(h.ledger.balance(c.userId)).toBe(60);
    expect(await reconLine(c.orderId)).toMatchObject({ matches: true, expected: { clawedBack: 100, restored: 60 } });
  });

  it('dispute, then a full refund: the refund takes nothing more while the dispute holds the credits', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await deliver([dispute('charge.dispute.created', dp, c.pi, 'needs_response'), refunded(c.pi, 500), dispute('charge.dispute.closed', dp, c.pi, 'lost')]);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect(h.ledger.balance(c.userId)).toBe(0);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'disputed', refunded_amount: 500 });
    expect(await reconLine(c.orderId)).toMatchObject({ matches: true });
  });

  it('dispute, a refund, then the dispute won: the restore is followed by the refund taking its share', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await deliver([dispute('charge.dispute.created', dp, c.pi, 'needs_response'), refunded(c.pi, 250)]);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    await deliver([dispute('charge.dispute.closed', dp, c.pi, 'won')]);
    // Sent in one transaction, applied in the order sent: the restore first cancels the dispute's
    // debt-free take, then the refund takes its share from what came back.
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100', 'clawback:50']);
    expectChained(c.orderId);
    expect(net(c.orderId)).toBe(50);
    expect(h.ledger.balance(c.userId)).toBe(50);
    expect(h.ledger.debt(c.userId)).toBe(0);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 250 });
    expect(await reconLine(c.orderId)).toMatchObject({ matches: true, expected: { clawedBack: 150, restored: 100 } });
  });

  it('a partial dispute, a full refund capped by it, then the dispute won: the refund tops up under a new key', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await deliver([dispute('charge.dispute.created', dp, c.pi, 'needs_response', 300), refunded(c.pi, 500)]);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:60', 'clawback:40']);
    await deliver([dispute('charge.dispute.funds_reinstated', dp, c.pi, 'won'), dispute('charge.dispute.closed', dp, c.pi, 'won')]);
    expect(net(c.orderId)).toBe(100);
    expect(h.ledger.balance(c.userId)).toBe(0);
    const keys = h.ledger.applied.filter((x) => x.idempotencyKey.startsWith(`order:${c.orderId}:refund`)).map((x) => x.idempotencyKey);
    expect(keys).toEqual([`order:${c.orderId}:refund:500`, `order:${c.orderId}:refund:500:credits:100`]);
    expect(h.ledger.conflicts).toEqual([]);
    expect(await reconLine(c.orderId)).toMatchObject({ matches: true, expected: { clawedBack: 160, restored: 60 } });
  });

  it('dispute won, then a full refund: the refund takes the whole pack once', async () => {
    const c = await paidOrder();
    const dp = newDisputeId();
    await deliver([dispute('charge.dispute.created', dp, c.pi, 'needs_response'), dispute('charge.dispute.closed', dp, c.pi, 'won'), refunded(c.pi, 500)]);
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100', 'restore:100', 'clawback:100']);
    expect(net(c.orderId)).toBe(100);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'refunded' });
    expect(await reconLine(c.orderId)).toMatchObject({ matches: true });
  });

  it('replays and duplicates of every event, in any order and concurrently, converge to the same net', async () => {
    const a = await paidOrder();
    const b = await paidOrder();
    const [dpA, dpB] = [newDisputeId(), newDisputeId()];
    const eventsFor = (pi: string, dp: string) => [refunded(pi, 500), dispute('charge.dispute.created', dp, pi, 'needs_response'), dispute('charge.dispute.closed', dp, pi, 'lost')];
    const evA = eventsFor(a.pi, dpA);
    const evB = eventsFor(b.pi, dpB).reverse();
    // All at once (concurrent workers), then every event again as a replay of the same id.
    await Promise.all([...evA, ...evB].map((ev) => h.webhook(ev)));
    await h.settled();
    await Promise.all([...evA, ...evB].map((ev) => h.webhook(ev)));
    await h.settled();
    for (const c of [a, b]) {
      expect(net(c.orderId)).toBe(100);
      expect(h.ledger.balance(c.userId)).toBe(0);
      expect(h.ledger.debt(c.userId)).toBe(0);
      expect(await reconLine(c.orderId)).toMatchObject({ matches: true });
    }
    expect(h.ledger.conflicts).toEqual([]);
  });
});

describe('other events', () => {
  it('acknowledges an event type billing does not handle and does nothing with it', async () => {
    const ev = fixture('event');
    const before = h.ledger.commands.length;
    const res = await h.webhook(ev);
    expect(res.status).toBe(200);
    await h.settled();
    const row = await h.db.selectFrom('stripe_events').selectAll().where('id', '=', ev.id as string).executeTakeFirstOrThrow();
    expect(row).toMatchObject({ type: 'plan.created', status: 'ignored', order_id: null });
    expect(h.ledger.commands.length).toBe(before);
  });
});

describe('privacy', () => {
  it('keeps no card or billing details anywhere after a full checkout, refund and dispute', async () => {
    const c = await paidOrder();
    await h.webhook(refunded(c.pi, 100, 'ch_privacy'));
    await h.webhook(dispute('charge.dispute.created', newDisputeId(), c.pi, 'needs_response', 400));
    await h.settled();

    const needles = [CARDHOLDER.last4, CARDHOLDER.fingerprint, CARDHOLDER.name, CARDHOLDER.email, CARDHOLDER.sessionEmail, 'visa', 'billing_details', 'customer_details'];
    const scan = async () => {
      const columns = await sql<{ table_name: string; column_name: string }>`
        select table_name, column_name from information_schema.columns
        where table_schema = 'public' and data_type in ('text', 'character varying', 'character', 'json', 'jsonb', 'ARRAY')`.execute(h.db);
      expect(columns.rows.length).toBeGreaterThan(10);
      const found: string[] = [];
      for (const { table_name, column_name } of columns.rows) {
        for (const needle of needles) {
          // Whole values only: "4242" also occurs inside random hex ids, which are not card data.
          const pattern = `(^|[^0-9a-z-])${needle.replace(/[.]/g, '\\.')}($|[^0-9a-z-])`;
          const n = await sql<{ n: string }>`select count(*) as n from ${sql.table(table_name)} where ${sql.ref(column_name)}::text ~* ${pattern}`.execute(h.db);
          if (Number(n.rows[0]!.n) > 0) found.push(`${table_name}.${column_name} contains ${needle}`);
        }
      }
      return found;
    };
    // The scan itself must see card data where it is: a planted copy of the fixture's card is found.
    await sql`create table privacy_canary (payload jsonb)`.execute(h.db);
    await sql`insert into privacy_canary values (${JSON.stringify({ card: { last4: CARDHOLDER.last4 }, email: CARDHOLDER.email })}::jsonb)`.execute(h.db);
    expect(await scan()).toEqual(['privacy_canary.payload contains 4242', `privacy_canary.payload contains ${CARDHOLDER.email}`]);
    await sql`drop table privacy_canary`.execute(h.db);

    const hits = await scan();
    expect(hits).toEqual([]);
    // and the stored event keeps only ids and amounts
    const stored = await h.db.selectFrom('stripe_events').selectAll().where('id', '=', c.completed.id as string).executeTakeFirstOrThrow();
    expect(stored).toMatchObject({ type: 'checkout.session.completed', order_id: c.orderId, payment_intent_id: c.pi, amount: 500, currency: 'usd' });
  });

  it('exports a person\'s orders to auth (its service token) only', async () => {
    const c = await paidOrder();
    const url = `${h.base}/internal/users/${c.userId}/export`;
    expect((await fetch(url)).status).toBe(403);
    expect((await fetch(url, { headers: { 'x-imlab-internal-token': 'wrong-token-of-same-size!!!' } })).status).toBe(403);
    expect((await fetch(url, { headers: { 'x-imlab-internal-token': await h.issuer.signService('billing', { caller: 'gateway' }) } })).status).toBe(403);
    expect((await fetch(url, { headers: { 'x-imlab-internal-token': await h.issuer.signService('credits-ledger') } })).status).toBe(403);
    const res = await fetch(url, { headers: { 'x-imlab-internal-token': await h.issuer.signService('billing') } });
    expect(res.status).toBe(200);
    const body = await res.json();
    expect(body).toEqual({ userId: c.userId, orders: [expect.objectContaining({ id: c.orderId, status: 'paid', amount: 500, credits: 100 })] });
  });

  it('unlinks purged people from their orders, which stay for the books', async () => {
    const c = await paidOrder();
    await h.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'user.purge', { userId: c.userId }));
    await h.settled();
    const order = await h.order(c.orderId);
    expect(order).toMatchObject({ user_id: null, status: 'paid', amount: 500, credits: 100 });
    expect((await h.api('GET', '/v1/billing/orders', { userId: c.userId })).body.items).toEqual([]);

    // Stripe can still refund afterwards: the order follows, but no command names anyone.
    const commands = h.ledger.commands.length;
    await h.webhook(refunded(c.pi, 500, 'ch_after_purge'));
    await h.settled();
    expect((await h.order(c.orderId)).status).toBe('refunded');
    expect(h.ledger.commands.length).toBe(commands);
    // Credited before the purge: billing does not refund it on its own.
    expect(h.stripe.refunds.filter((r) => r.payment_intent === c.pi)).toEqual([]);
  });

  it('refunds at Stripe, once, an order paid after its owner was purged (nobody to credit)', async () => {
    const c = await checkoutReady();
    await h.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'user.purge', { userId: c.userId }));
    await h.settled();
    // The bank debit settles days later; Stripe also redelivers the event.
    await h.webhook(c.completed);
    await h.webhook(c.completed);
    await h.settled();
    expect(await h.order(c.orderId)).toMatchObject({ user_id: null, status: 'paid' });
    expect(ledgerFor(c.orderId)).toEqual([]);
    const refunds = h.stripe.refunds.filter((r) => r.payment_intent === c.pi);
    expect(refunds).toHaveLength(1);
    const calls = h.stripe.requests.filter((r) => r.path === '/v1/refunds' && r.params.payment_intent === c.pi);
    expect(new Set(calls.map((r) => r.idempotencyKey))).toEqual(new Set([`orphaned-order-refund:${c.orderId}`]));
    // Until Stripe confirms the refund, finance sees why the order is still open.
    expect(await reconLine(c.orderId)).toMatchObject({ matches: false, reasons: [expect.stringMatching(/automatic refund is not confirmed/)] });
    // Stripe then reports the refund like any other; the order follows it and nothing is sent again.
    await h.webhook(refunded(c.pi, 500, 'ch_orphan'));
    await h.settled();
    expect(await h.order(c.orderId)).toMatchObject({ status: 'refunded', refunded_amount: 500 });
    expect(h.stripe.refunds.filter((r) => r.payment_intent === c.pi)).toHaveLength(1);
    expect(h.ledger.commands.filter((x) => x.idempotencyKey.startsWith(`order:${c.orderId}`))).toEqual([]);
    // Now it is settled for finance: no credits were issued and the money went back.
    const recon = await reconLine(c.orderId);
    expect(recon).toMatchObject({ matches: true, expected: { granted: 0, clawedBack: 0, restored: 0 }, ledger: { granted: 0 } });
  });

  it('refunds an order whose grant the ledger refused (its purge reached the ledger before billing\'s)', async () => {
    const c = await paidOrder(); // billing still links the order: its copy of the purge has not run
    await h.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'ledger.grant-refused', { idempotencyKey: `order:${c.orderId}`, reference: `order:${c.orderId}` }));
    await h.settled();
    await h.db.transaction().execute((tx) => h.ctx.bus.send(tx, 'ledger.grant-refused', { idempotencyKey: `order:${c.orderId}`, reference: `order:${c.orderId}` }));
    await h.settled();
    expect(h.stripe.refunds.filter((r) => r.payment_intent === c.pi)).toHaveLength(1);
    expect((await h.order(c.orderId)).auto_refund_requested_at).not.toBeNull();
  });
});
