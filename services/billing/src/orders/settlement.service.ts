import type { Transaction } from '@imlab/db';
import type { Bus, QueueTables } from '@imlab/queue';
import type { Logger } from '@imlab/logger';
import type { DB, OrderStatus, PostingCause, PostingKind } from '../db.js';
import { creditsFor } from '../pricing/catalog.js';
import * as orders from './orders.repository.js';
import type { OrderRow, DisputeRow } from './orders.repository.js';

/** Dispute statuses after which Stripe no longer moves the money back and forth. */
const DISPUTE_TERMINAL = new Set(['won', 'lost', 'warning_closed', 'prevented']);
/** Outcomes in which the merchant keeps (or gets back) the money: the credits are restored. */
const DISPUTE_MERCHANT_WON = new Set(['won', 'warning_closed', 'prevented']);

export interface SettleDeps {
  bus: Bus;
  log: Logger;
}

const outbox = (tx: Transaction<DB>) => tx as unknown as Transaction<QueueTables>;

export function disputeFavoursMerchant(d: Pick<DisputeRow, 'status' | 'funds_reinstated'>): boolean {
  return d.funds_reinstated || DISPUTE_MERCHANT_WON.has(d.status);
}

/**
 * Merges what an event says about a dispute with what is known, so reordered events converge:
 * a terminal status is never replaced by an earlier, open one, and reinstated funds stay reinstated.
 */
export function mergeDispute(known: DisputeRow | undefined, incoming: DisputeRow): DisputeRow {
  if (!known) return incoming;
  const keepKnown = DISPUTE_TERMINAL.has(known.status) && !DISPUTE_TERMINAL.has(incoming.status);
  return {
    ...known,
    amount: incoming.amount || known.amount,
    status: keepKnown ? known.status : incoming.status,
    funds_reinstated: known.funds_reinstated || incoming.funds_reinstated,
  };
}

/** The order's status follows from its facts alone, so any order of events gives the same answer. */
export function deriveStatus(order: Pick<OrderRow, 'status' | 'paid_at' | 'refunded_amount' | 'amount'>, disputes: DisputeRow[]): OrderStatus {
  if (!order.paid_at) return order.status;
  if (disputes.some((d) => !disputeFavoursMerchant(d))) return 'disputed';
  if (order.refunded_amount >= order.amount) return 'refunded';
  return 'paid';
}

interface Wanted {
  key: string;
  kind: PostingKind;
  cause: PostingCause;
  credits: number;
}

/**
 * Brings the ledger in line with the order's facts: computes every command the facts call for
 * (grant once; refunds up to the cumulative amount refunded; a clawback per dispute and a restore
 * per dispute the merchant won) and sends those not sent before, in the caller's transaction.
 * Idempotency keys come from the facts, so replays and reorderings send nothing twice.
 */
export async function settleOrder(tx: Transaction<DB>, orderId: string, deps: SettleDeps): Promise<OrderRow | undefined> {
  const order = await orders.lockOrder(tx, orderId);
  if (!order) return undefined;
  const disputes = await orders.listDisputes(tx, orderId);
  const status = deriveStatus(order, disputes);
  if (status !== order.status) await orders.updateOrder(tx, orderId, { status });
  if (!order.paid_at) return { ...order, status };
  if (!order.user_id) {
    // Purged person: the ledger no longer links anything to them, there is no account to move credits on.
    deps.log.warn({ orderId }, 'order of a purged account changed at Stripe; no ledger command sent');
    return { ...order, status };
  }

  const wanted: Wanted[] = [{ key: `order:${order.id}`, kind: 'grant', cause: 'purchase', credits: order.credits }];

  const refundTarget = creditsFor(order.refunded_amount, order.amount, order.credits);
  const refundSent = await orders.postedCredits(tx, order.id, 'clawback', 'refund');
  if (refundTarget > refundSent) {
    // Keyed by the cumulative amount refunded: a replay of the same refund event derives the same key.
    wanted.push({ key: `order:${order.id}:refund:${order.refunded_amount}`, kind: 'clawback', cause: 'refund', credits: refundTarget - refundSent });
  }

  for (const d of disputes) {
    const credits = creditsFor(d.amount, order.amount, order.credits);
    if (credits <= 0) continue;
    wanted.push({ key: `order:${order.id}:dispute:${d.id}`, kind: 'clawback', cause: 'dispute', credits });
    if (disputeFavoursMerchant(d)) wanted.push({ key: `order:${order.id}:dispute:${d.id}:restore`, kind: 'restore', cause: 'dispute', credits });
  }

  for (const w of wanted) {
    if (w.credits <= 0) continue;
    const fresh = await orders.recordPosting(tx, { idempotency_key: w.key, order_id: order.id, kind: w.kind, cause: w.cause, credits: w.credits });
    if (!fresh) continue;
    const reference = `order:${order.id}`;
    if (w.kind === 'grant') {
      await deps.bus.send(outbox(tx), 'ledger.grant', { idempotencyKey: w.key, userId: order.user_id, amount: w.credits, source: 'purchase', reference });
    } else if (w.kind === 'clawback') {
      await deps.bus.send(outbox(tx), 'ledger.clawback', { idempotencyKey: w.key, userId: order.user_id, amount: w.credits, reference });
    } else {
      await deps.bus.send(outbox(tx), 'ledger.restore', { idempotencyKey: w.key, userId: order.user_id, amount: w.credits, reference });
    }
    deps.log.info({ orderId: order.id, kind: w.kind, cause: w.cause, credits: w.credits }, 'ledger command sent');
  }
  return { ...order, status };
}

/**
 * Payment confirmed by Stripe (webhook or sweeper): the order becomes paid once, the receipt
 * event goes out once, and the ledger is settled. Safe to call any number of times.
 */
export async function markPaid(tx: Transaction<DB>, order: OrderRow, paymentIntentId: string | null, deps: SettleDeps): Promise<void> {
  const patch: Parameters<typeof orders.updateOrder>[2] = {};
  if (paymentIntentId && !order.stripe_payment_intent_id) patch.stripe_payment_intent_id = paymentIntentId;
  const firstTime = !order.paid_at;
  if (firstTime) {
    patch.paid_at = new Date();
    patch.status = 'paid';
    patch.closed_at = null;
  }
  if (Object.keys(patch).length) await orders.updateOrder(tx, order.id, patch);
  if (firstTime && order.user_id) {
    await deps.bus.send(outbox(tx), 'order.paid', { orderId: order.id, userId: order.user_id, credits: order.credits, amount: order.amount, currency: order.currency });
  }
  await settleOrder(tx, order.id, deps);
}
