import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { sql } from '@imlab/db';
import { startBilling, type Harness } from './support/harness.js';
import { stripeEvent, sessionObject, chargeObject, newPaymentIntentId } from './support/events.js';
import { sweepPendingOrders, startSweeper } from '../src/sweeper/sweeper.service.js';
import { setCheckoutSession } from '../src/orders/orders.repository.js';
import { createStripe } from '../src/stripe/stripe-client.js';
import { eventually } from '@imlab/testing';
import { createLogger } from '@imlab/logger';

const log = createLogger({ service: 'billing-sweeper-test', level: 'silent' });

let h: Harness;
beforeAll(async () => {
  h = await startBilling('sweeper');
});
afterAll(async () => {
  await h?.close();
});

const sweep = (ageSeconds = 0, batch?: number) =>
  sweepPendingOrders({ db: h.db, bus: h.ctx.bus, stripe: createStripe(h.config), log, ageSeconds, ...(batch ? { batch } : {}) });
const ledgerFor = (orderId: string) => h.ledger.applied.filter((c) => c.idempotencyKey.startsWith(`order:${orderId}`)).map((c) => `${c.kind}:${c.amount}`);
const age = (orderId: string, seconds: number) =>
  sql`update orders set created_at = now() - make_interval(secs => ${seconds}) where id = ${orderId}`.execute(h.db);

describe('sweeper for missed webhooks', () => {
  it('fulfils a paid order whose webhook never arrived, and the late webhook changes nothing', async () => {
    const userId = h.newUser();
    const c = await h.checkout(userId);
    const pi = newPaymentIntentId();
    h.stripe.update(c.session.id, { status: 'complete', payment_status: 'paid', payment_intent: pi });
    const chargedAt = new Date(Math.floor(Date.now() / 1000 - 3000) * 1000);
    h.stripe.putPaymentIntent({ id: pi, status: 'succeeded', chargedAt });
    await age(c.orderId, 3600);

    const result = await sweep(1800);
    expect(result).toMatchObject({ fulfilled: 1 });
    await h.settled();
    // Paid when Stripe charged, not when the sweeper noticed.
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', stripe_payment_intent_id: pi, paid_at: chargedAt });
    expect(ledgerFor(c.orderId)).toEqual(['grant:100']);
    expect(h.stripe.requests.some((r) => r.method === 'GET' && r.path === `/v1/checkout/sessions/${c.session.id}`)).toBe(true);

    await h.webhook(stripeEvent('checkout.session.completed', sessionObject(h.stripe.sessions.get(c.session.id)!, {})));
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100']);
    const receipts = await h.db.selectFrom('outbox').select('payload').where('name', '=', 'order.paid').execute();
    expect(receipts.filter((r) => (r.payload as { orderId: string }).orderId === c.orderId)).toHaveLength(1);
  });

  it('an order failed for having no session while Stripe was still creating it is pending again once the session is recorded, and still swept', async () => {
    const userId = h.newUser();
    const c = await h.checkout(userId);
    // As if the sweeper had run while the create was still under way (PENDING_ORDER_SWEEP_AGE shorter than the Stripe call).
    await sql`update orders set stripe_session_id = null where id = ${c.orderId}`.execute(h.db);
    await age(c.orderId, 3600);
    expect(await sweep(1800)).toMatchObject({ failed: 1 });
    expect(await h.order(c.orderId)).toMatchObject({ status: 'failed' });
    await setCheckoutSession(h.db, c.orderId, c.session.id); // the create returns: its page is handed out
    expect(await h.order(c.orderId)).toMatchObject({ status: 'pending', closed_at: null, stripe_session_id: c.session.id });
    // Paid, webhook lost: the sweeper still finds and fulfils it.
    h.stripe.update(c.session.id, { status: 'complete', payment_status: 'paid', payment_intent: newPaymentIntentId() });
    await age(c.orderId, 3600);
    expect(await sweep(1800)).toMatchObject({ fulfilled: 1 });
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100']);
  });

  it('expires an order whose session expired unpaid, and leaves an open one and a young one alone', async () => {
    const expired = await h.checkout(h.newUser());
    h.stripe.update(expired.session.id, { status: 'expired', payment_status: 'unpaid' });
    const open = await h.checkout(h.newUser());
    const young = await h.checkout(h.newUser());
    h.stripe.update(young.session.id, { status: 'expired' });
    await age(expired.orderId, 7200);
    await age(open.orderId, 7200);

    await sweep(1800);
    await h.settled();
    expect((await h.order(expired.orderId)).status).toBe('expired');
    expect((await h.order(open.orderId)).status).toBe('pending');
    expect((await h.order(young.orderId)).status).toBe('pending');
    expect(ledgerFor(expired.orderId)).toEqual([]);
  });

  it('fails an order whose bank debit failed when async_payment_failed was lost, and leaves one still processing alone', async () => {
    await sql`update orders set status = 'expired' where status = 'pending'`.execute(h.db); // earlier tests' leftovers
    const failedDebit = await h.checkout(h.newUser());
    const processing = await h.checkout(h.newUser());
    const failedPi = newPaymentIntentId();
    const processingPi = newPaymentIntentId();
    // Both sessions completed with a delayed method: complete, unpaid, until the debit settles.
    h.stripe.update(failedDebit.session.id, { status: 'complete', payment_status: 'unpaid', payment_intent: failedPi });
    h.stripe.update(processing.session.id, { status: 'complete', payment_status: 'unpaid', payment_intent: processingPi });
    h.stripe.putPaymentIntent({ id: failedPi, status: 'requires_payment_method', lastPaymentError: { type: 'card_error', code: 'payment_intent_payment_attempt_failed', message: 'The bank debit failed.' } });
    h.stripe.putPaymentIntent({ id: processingPi, status: 'processing' });
    await age(failedDebit.orderId, 3600);
    await age(processing.orderId, 3600);

    const result = await sweep(1800);
    expect(result).toMatchObject({ failed: 1, open: 1, fulfilled: 0 });
    expect(await h.order(failedDebit.orderId)).toMatchObject({ status: 'failed' });
    expect((await h.order(failedDebit.orderId)).closed_at).not.toBeNull();
    expect(await h.order(processing.orderId)).toMatchObject({ status: 'pending', closed_at: null });
    // One call per order: the session comes with its PaymentIntent and latest charge expanded.
    const lookups = h.stripe.requests.filter((r) => r.method === 'GET' && [failedDebit.session.id, processing.session.id].some((id) => r.path === `/v1/checkout/sessions/${id}`));
    expect(lookups).toHaveLength(2);
    expect(lookups.every((r) => r.query['expand[0]'] === 'payment_intent.latest_charge')).toBe(true);
    expect(h.stripe.requests.some((r) => r.path.startsWith('/v1/payment_intents/'))).toBe(false);

    // The lost webhook turns up late: nothing changes. The other debit clears later: paid as usual.
    await h.webhook(stripeEvent('checkout.session.async_payment_failed', sessionObject(h.stripe.sessions.get(failedDebit.session.id)!, {})));
    h.stripe.update(processing.session.id, { payment_status: 'paid' });
    await age(processing.orderId, 3600);
    expect(await sweep(1800)).toMatchObject({ fulfilled: 1 });
    await h.settled();
    expect(await h.order(failedDebit.orderId)).toMatchObject({ status: 'failed' });
    expect(ledgerFor(failedDebit.orderId)).toEqual([]);
    expect(ledgerFor(processing.orderId)).toEqual(['grant:100']);
  });

  it('one order that cannot be swept does not stop the sweep, and goes on being retried', async () => {
    await sql`update orders set status = 'expired' where status = 'pending'`.execute(h.db); // earlier tests' leftovers
    const broken = await h.checkout(h.newUser());
    const fine = await h.checkout(h.newUser());
    for (const c of [broken, fine]) h.stripe.update(c.session.id, { status: 'complete', payment_status: 'paid', payment_intent: newPaymentIntentId() });
    await age(broken.orderId, 7200); // first in line
    await age(fine.orderId, 3600);
    // Any write to the broken order fails (as a deadlock or a constraint would), its fulfilment included.
    await sql`create function pg_temp_refuse_order() returns trigger language plpgsql as $$ begin raise exception 'order refused for the test'; end $$`.execute(h.db);
    await sql.raw(`create trigger refuse_order before update on orders for each row when (old.id = '${broken.orderId}') execute function pg_temp_refuse_order()`).execute(h.db);
    try {
      expect(await sweep(1800)).toMatchObject({ checked: 2, fulfilled: 1 });
      await h.settled();
      expect(await h.order(fine.orderId)).toMatchObject({ status: 'paid' });
      expect(await h.order(broken.orderId)).toMatchObject({ status: 'pending' });
    } finally {
      await sql`drop trigger refuse_order on orders`.execute(h.db);
      await sql`drop function pg_temp_refuse_order()`.execute(h.db);
    }
    expect(await sweep(1800)).toMatchObject({ checked: 1, fulfilled: 1 });
    await h.settled();
    expect(ledgerFor(broken.orderId)).toEqual(['grant:100']);
    expect(ledgerFor(fine.orderId)).toEqual(['grant:100']);
  });

  it('applies a refund that arrived while the completion webhook was lost', async () => {
    const c = await h.checkout(h.newUser());
    const pi = newPaymentIntentId();
    await h.webhook(stripeEvent('charge.refunded', chargeObject({ paymentIntent: pi, amount: 500, amountRefunded: 500, currency: 'usd' })));
    await h.settled();
    h.stripe.update(c.session.id, { status: 'complete', payment_status: 'paid', payment_intent: pi });
    await age(c.orderId, 3600);
    await sweep(1800);
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100', 'clawback:100']);
    expect((await h.order(c.orderId)).status).toBe('refunded');
  });

  it('looks at still-open sessions in rotation, so a backlog cannot starve a newer paid order', async () => {
    await sql`update orders set status = 'expired' where status = 'pending'`.execute(h.db); // earlier tests' leftovers
    const stuck = await h.checkout(h.newUser());
    const paidLater = await h.checkout(h.newUser());
    h.stripe.update(paidLater.session.id, { status: 'complete', payment_status: 'paid', payment_intent: newPaymentIntentId() });
    await age(stuck.orderId, 7200);
    await age(paidLater.orderId, 3600);

    expect(await sweep(1800, 1)).toMatchObject({ checked: 1, open: 1 });
    expect(await sweep(1800, 1)).toMatchObject({ checked: 1, fulfilled: 1 });
    await h.settled();
    expect((await h.order(paidLater.orderId)).status).toBe('paid');
    expect((await h.order(stuck.orderId)).status).toBe('pending');
  });

  it('runs on its interval in the background', async () => {
    const c = await h.checkout(h.newUser());
    h.stripe.update(c.session.id, { status: 'complete', payment_status: 'paid', payment_intent: newPaymentIntentId() });
    const sweeper = startSweeper({ db: h.db, bus: h.ctx.bus, stripe: createStripe(h.config), log, ageSeconds: 0 }, 0.1);
    try {
      await eventually(async () => (await h.order(c.orderId)).status === 'paid', 5000);
    } finally {
      await sweeper.close();
    }
    await h.settled();
    expect(ledgerFor(c.orderId)).toEqual(['grant:100']);
  });
});
