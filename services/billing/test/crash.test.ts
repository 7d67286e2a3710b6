import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { startBilling, type Harness } from './support/harness.js';
import { stripeEvent, sessionObject, chargeObject, newPaymentIntentId } from './support/events.js';

/** Every Stripe event's first processing attempt dies just before its transaction commits. */
const crashed = new Set<string>();
let h: Harness;
beforeAll(async () => {
  h = await startBilling(
    'crash',
    {},
    {
      consume: {
        beforeCommit: (message) => {
          if (message.name !== 'billing.stripe-event' || crashed.has(message.id)) return;
          crashed.add(message.id);
          throw new Error('simulated crash before commit');
        },
      },
    },
  );
});
afterAll(async () => {
  await h?.close();
});

describe('processing that dies mid-way', () => {
  it('rolls back the whole effect and the retry applies it exactly once', async () => {
    const userId = h.newUser();
    const c = await h.checkout(userId);
    const pi = newPaymentIntentId();
    await h.webhook(stripeEvent('checkout.session.completed', sessionObject(c.session, { status: 'complete', payment_status: 'paid', payment_intent: pi })));
    await h.webhook(stripeEvent('charge.refunded', chargeObject({ paymentIntent: pi, amount: 500, amountRefunded: 250, currency: 'usd' })));
    await h.settled(30_000);

    expect(crashed.size).toBe(2);
    const forOrder = h.ledger.applied.filter((x) => x.idempotencyKey.startsWith(`order:${c.orderId}`)).map((x) => `${x.kind}:${x.amount}`);
    expect(forOrder).toEqual(['grant:100', 'clawback:50']);
    expect({ balance: h.ledger.balance(userId), debt: h.ledger.debt(userId) }).toEqual({ balance: 50, debt: 0 });
    expect(h.ledger.duplicates).toEqual([]);
    const receipts = await h.db.selectFrom('outbox').select('payload').where('name', '=', 'order.paid').execute();
    expect(receipts).toHaveLength(1);
    expect(await h.order(c.orderId)).toMatchObject({ status: 'paid', refunded_amount: 250 });
  });
});
