import type { Kysely, Transaction } from '@imlab/db';
import type { Bus } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import { AppError } from '@imlab/http';
import type { DB, StripeEventStatus } from '../db.js';
import type { Stripe } from '../stripe/stripe-client.js';
import * as orders from '../orders/orders.repository.js';
import { charged, markPaid, mergeDispute, settleOrder } from '../orders/settlement.service.js';
import { factsOf } from './event-facts.js';
import { importPayout, importRecent } from '../stripe-money/stripe-money.import.js';
import * as events from './stripe-events.repository.js';
import type { StripeEventRow } from './stripe-events.repository.js';

export interface WebhookDeps {
  db: Kysely<DB>;
  bus: Bus<DB>;
  stripe: Stripe;
  webhookSecret: string;
  toleranceSeconds: number;
}


/**
 * Verifies the signature over the raw body with the SDK, then stores the event by id and queues
 * its processing in one transaction. Answers fast; a replay is stored and queued only once.
 */
export async function receiveWebhook(deps: WebhookDeps, rawBody: Buffer, signature: string | undefined, requestId: string): Promise<{ duplicate: boolean }> {
  if (!signature) throw new AppError('BILLING_WEBHOOK_SIGNATURE_MISSING');
  let event: Stripe.Event;
  try {
    event = deps.stripe.webhooks.constructEvent(rawBody, signature, deps.webhookSecret, deps.toleranceSeconds);
  } catch (err) {
    // The SDK's message says which check failed (no matching signature, timestamp outside tolerance).
    const reason = (err as Error).message.split('\n')[0] ?? '';
    throw new AppError('BILLING_WEBHOOK_SIGNATURE_INVALID', { message: `signature verification failed: ${reason}`, params: { stale: /tolerance/i.test(reason) }, cause: err });
  }
  if (typeof event.id !== 'string' || !event.id || typeof event.type !== 'string') {
    throw new AppError('BILLING_WEBHOOK_MALFORMED');
  }
  const facts = factsOf(event);
  const stored = await deps.db.transaction().execute(async (tx) => {
    const inserted = await events.insertEvent(tx, facts);
    if (inserted) await deps.bus.send(tx, 'billing.stripe-event', { eventId: facts.id }, { requestId });
    return inserted;
  });
  return { duplicate: !stored };
}

export interface ProcessDeps {
  bus: Bus<DB>;
  log: Logger;
  /** Asked for the payment's refunds once a refund of the order has failed (refreshRefunded). */
  stripe: Stripe;
}

/** How long the refund list read under the order's locks may take. */
const REFUND_LIST_TIMEOUT_MS = 5000;

/** Refund statuses that give the money back to the merchant: the refund no longer counts. */
const REFUND_UNDONE = new Set(['failed', 'canceled']);

/**
 * Applies one stored event (from billing's inbox). Events that name a PaymentIntent no order knows
 * yet are parked, and applied when an order learns that PaymentIntent: a refund or dispute that
 * overtakes the payment's completion still lands.
 */
export async function processStripeEvent(tx: Transaction<DB>, eventId: string, deps: ProcessDeps): Promise<{ status: StripeEventStatus }> {
  const ev = await events.lockEvent(tx, eventId);
  if (!ev) throw new AppError('BILLING_EVENT_NOT_FOUND', { message: `stripe event ${eventId} is not stored`, retryable: false });
  if (ev.status === 'processed' || ev.status === 'ignored') return { status: ev.status };
  const status = await apply(tx, ev, deps);
  await events.finishEvent(tx, ev.id, status);
  deps.log.info({ eventId: ev.id, type: ev.type, status }, 'stripe event applied');
  return { status };
}

async function apply(tx: Transaction<DB>, ev: StripeEventRow, deps: ProcessDeps): Promise<StripeEventStatus> {
  switch (ev.type) {
    case 'checkout.session.completed':
    case 'checkout.session.async_payment_succeeded':
    case 'checkout.session.async_payment_failed':
    case 'checkout.session.expired':
      return applySession(tx, ev, deps);
    case 'charge.refunded':
      return withOrderOrPark(tx, ev, deps, async (order) => {
        if (order.refund_failed_at) {
          // A refund of this order failed before: the largest amount seen may include it, Stripe's list does not.
          await refreshRefunded(tx, order, ev, deps);
        } else if (ev.amount !== null && ev.amount > order.refunded_amount) {
          // amount_refunded is cumulative: keep the largest seen, so an older event arriving late changes nothing.
          await orders.updateOrder(tx, order.id, { refunded_amount: Math.min(ev.amount, charged(order)) });
        }
        await settleOrder(tx, order.id, deps);
      });
    case 'charge.dispute.created':
    case 'charge.dispute.updated':
    case 'charge.dispute.closed':
    case 'charge.dispute.funds_withdrawn':
    case 'charge.dispute.funds_reinstated':
      if (!ev.object_id) return 'ignored';
      return withOrderOrPark(tx, ev, deps, async (order) => {
        const known = await orders.findDispute(tx, ev.object_id!);
        const merged = mergeDispute(known, {
          id: ev.object_id!,
          order_id: order.id,
          amount: ev.amount ?? 0,
          status: ev.object_status ?? 'needs_response',
          funds_reinstated: ev.type === 'charge.dispute.funds_reinstated',
        });
        await orders.upsertDispute(tx, merged);
        await settleOrder(tx, order.id, deps);
      });
    case 'charge.refund.updated':
    case 'refund.updated':
    case 'refund.failed':
      // Refunds that succeed or are still pending are counted from charge.refunded; only an undone one matters here.
      if (!REFUND_UNDONE.has(ev.object_status ?? '')) return 'ignored';
      return withOrderOrPark(tx, ev, deps, async (order) => {
        if (!order.refund_failed_at) await orders.updateOrder(tx, order.id, { refund_failed_at: new Date() });
        await refreshRefunded(tx, order, ev, deps);
        await settleOrder(tx, order.id, deps);
      });
    case 'payout.paid':
    case 'payout.updated':
    case 'payout.failed':
    case 'payout.canceled': {
      // Stripe's money for reconciliation: the payout as Stripe holds it now, and what it settled.
      if (!ev.object_id) return 'ignored';
      const payout = await deps.stripe.payouts.retrieve(ev.object_id);
      await importPayout({ db: tx, stripe: deps.stripe, log: deps.log }, payout);
      return 'processed';
    }
    case 'balance.available':
      await importRecent({ db: tx, stripe: deps.stripe, log: deps.log });
      return 'processed';
    default:
      // Stripe sends what the endpoint subscribes to and sometimes more: acknowledged, ignored.
      return 'ignored';
  }
}

async function applySession(tx: Transaction<DB>, ev: StripeEventRow, deps: ProcessDeps): Promise<StripeEventStatus> {
  if (ev.payment_intent_id) await orders.lockPaymentIntent(tx, ev.payment_intent_id);
  const order = (ev.order_id ? await orders.lockOrder(tx, ev.order_id) : undefined) ?? (ev.object_id ? await orders.lockOrderBySession(tx, ev.object_id) : undefined);
  if (!order) {
    deps.log.warn({ eventId: ev.id, type: ev.type }, 'checkout session of no known order; ignored');
    return 'ignored';
  }
  const paid =
    ev.type === 'checkout.session.async_payment_succeeded' ||
    (ev.type === 'checkout.session.completed' && (ev.object_status === 'paid' || ev.object_status === 'no_payment_required'));
  if (paid) {
    await markPaid(tx, order, ev.payment_intent_id, deps, { amount: ev.amount, currency: ev.currency, at: ev.created, tax: ev.tax_amount });
  } else if (ev.type === 'checkout.session.async_payment_failed') {
    if (order.status === 'pending') await orders.updateOrder(tx, order.id, { status: 'failed', closed_at: new Date() });
  } else if (ev.type === 'checkout.session.expired') {
    if (order.status === 'pending') await orders.updateOrder(tx, order.id, { status: 'expired', closed_at: new Date() });
  } else if (ev.payment_intent_id && !order.stripe_payment_intent_id) {
    // Completed but the payment is still processing (bank debits): remember the PaymentIntent.
    await orders.updateOrder(tx, order.id, { stripe_payment_intent_id: ev.payment_intent_id });
  }
  if (ev.payment_intent_id) await applyParked(tx, ev.payment_intent_id, deps);
  return 'processed';
}

/**
 * Sets the order's refunded amount to what Stripe says is refunded now: the sum of the payment's
 * refunds that are not failed or canceled (it can go down, and the credits a failed refund took
 * are then restored by settleOrder). Read under the order's lock, so the last event applied reads
 * the newest list. A Stripe error fails the event, which is retried.
 */
async function refreshRefunded(tx: Transaction<DB>, order: orders.OrderRow, ev: StripeEventRow, deps: ProcessDeps): Promise<void> {
  const paymentIntent = order.stripe_payment_intent_id ?? ev.payment_intent_id;
  if (!paymentIntent) {
    deps.log.warn({ orderId: order.id, eventId: ev.id }, 'refund change for an order with no known payment; refunded amount left as it is');
    return;
  }
  let refunded = 0;
  // Under the order's locks: no SDK retries and a short timeout; a failure fails the event, which
  // the bus retries (billing.stripe-event is persistent) without holding the locks meanwhile.
  for await (const refund of deps.stripe.refunds.list({ payment_intent: paymentIntent, limit: 100 }, { timeout: REFUND_LIST_TIMEOUT_MS, maxNetworkRetries: 0 })) {
    if (!REFUND_UNDONE.has(refund.status ?? '')) refunded += refund.amount;
  }
  const amount = Math.min(refunded, charged(order));
  if (amount !== order.refunded_amount) {
    deps.log.info({ orderId: order.id, from: order.refunded_amount, to: amount }, 'refunded amount corrected from Stripe');
    await orders.updateOrder(tx, order.id, { refunded_amount: amount });
  }
}

/** Applies events parked for a PaymentIntent now that an order knows it. */
export async function applyParked(tx: Transaction<DB>, paymentIntentId: string, deps: ProcessDeps): Promise<void> {
  for (const id of await events.parkedEventIds(tx, paymentIntentId)) {
    await processStripeEvent(tx, id, deps);
  }
}

async function withOrderOrPark(
  tx: Transaction<DB>,
  ev: StripeEventRow,
  deps: ProcessDeps,
  fn: (order: orders.OrderRow) => Promise<void>,
): Promise<StripeEventStatus> {
  if (ev.payment_intent_id) await orders.lockPaymentIntent(tx, ev.payment_intent_id);
  const order =
    (ev.order_id ? await orders.lockOrder(tx, ev.order_id) : undefined) ??
    (ev.payment_intent_id ? await orders.lockOrderByPaymentIntent(tx, ev.payment_intent_id) : undefined);
  if (order) {
    await fn(order);
    return 'processed';
  }
  if (ev.payment_intent_id) {
    deps.log.info({ eventId: ev.id, type: ev.type }, 'event for a payment not yet known; parked');
    return 'parked';
  }
  deps.log.warn({ eventId: ev.id, type: ev.type }, 'event names no order and no payment intent; ignored');
  return 'ignored';
}
