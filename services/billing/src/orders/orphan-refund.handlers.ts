import type { Bus, Handler } from '@imlab/queue';
import type { DB } from '../db.js';
import type { Stripe } from '../stripe/stripe-client.js';
import * as orders from './orders.repository.js';
import { requestOrphanRefund } from './settlement.service.js';
import { orderOfKey } from '../reconciliation/reconciliation.handlers.js';

/**
 * billing.refund-orphaned-order: asks Stripe to refund an order paid after its owner's purge. The
 * idempotency key makes a retried call (lost answer, redelivery) one refund at Stripe; the
 * charge.refunded webhook that follows records it on the order like any other refund.
 */
export function orphanRefundHandler(stripe: Stripe): Handler<'billing.refund-orphaned-order', DB> {
  return async ({ tx, payload, log }) => {
    // Not locked: the Stripe call must not hold a row lock; the idempotency key makes repeats one refund.
    const order = await orders.findOrder(tx, payload.orderId);
    if (!order?.stripe_payment_intent_id) return { refunded: false };
    const refund = await stripe.refunds.create(
      { payment_intent: order.stripe_payment_intent_id, metadata: { orderId: order.id, reason: 'account-deleted' } },
      { idempotencyKey: `orphaned-order-refund:${order.id}` },
    );
    log.info({ orderId: order.id, refundId: refund.id }, 'order paid after its account was purged: refunded at Stripe');
    return { refunded: true, refundId: refund.id };
  };
}

/**
 * ledger.grant-refused: the purge reached the ledger before billing's copy did, and a payment settled
 * in between: the grant was turned down, so the order is refunded like one paid after the purge.
 */
export function grantRefusedHandler(bus: Bus<DB>): Handler<'ledger.grant-refused', DB> {
  return async ({ tx, payload, log }) => {
    const orderId = orderOfKey(payload.idempotencyKey);
    const order = orderId ? await orders.lockOrder(tx, orderId) : undefined;
    if (!order) return { refundRequested: false };
    return { refundRequested: await requestOrphanRefund(tx, order, { bus, log }) };
  };
}
