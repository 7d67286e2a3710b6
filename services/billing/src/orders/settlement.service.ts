import type { Transaction } from '@imlab/db';
import type { Bus } from '@imlab/queue';
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
  bus: Bus<DB>;
  log: Logger;
}


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

/**
 * What Stripe took for the order, in the money its refunds and disputes are stated in: the charge
 * once known (with tax added to an exclusive price, or in another currency under Adaptive Pricing),
 * else the price. A refund's or dispute's share of the credits is its share of this.
 */
export function charged(order: Pick<OrderRow, 'amount' | 'paid_amount'>): number {
  return order.paid_amount ?? order.amount;
}

/** The order's status follows from its facts alone, so any order of events gives the same answer. */
export function deriveStatus(order: Pick<OrderRow, 'status' | 'paid_at' | 'refunded_amount' | 'amount' | 'paid_amount'>, disputes: DisputeRow[]): OrderStatus {
  if (!order.paid_at) return order.status;
  if (disputes.some((d) => !disputeFavoursMerchant(d))) return 'disputed';
  if (order.refunded_amount >= charged(order)) return 'refunded';
  return 'paid';
}

export interface Wanted {
  key: string;
  kind: PostingKind;
  cause: PostingCause;
  credits: number;
}

export interface RecordedPosting {
  idempotency_key: string;
  kind: PostingKind;
  cause: PostingCause;
  credits: number;
}

/**
 * What the facts call for in the end, whatever the order they arrived in: the refund's share and
 * the share of every dispute still open or lost, together never more than the pack.
 */
export function factsNetClawback(order: Pick<OrderRow, 'refunded_amount' | 'amount' | 'paid_amount' | 'credits'>, disputes: DisputeRow[]): number {
  const refund = creditsFor(order.refunded_amount, charged(order), order.credits);
  const open = disputes.filter((d) => !disputeFavoursMerchant(d)).reduce((s, d) => s + creditsFor(d.amount, charged(order), order.credits), 0);
  return Math.min(order.credits, refund + open);
}

/**
 * The ledger commands the order's facts still call for, given those already sent. The rule, so no
 * credit is taken or given twice (net clawed back = clawbacks − restores, never above the grant):
 *  1. grant the pack once;
 *  2. a dispute the merchant won (or whose funds came back) restores exactly what its own
 *     clawback took, once — nothing if it took nothing;
 *  3. refunds take their share (`creditsFor(cumulative refunded)`) minus what refunds already
 *     took, capped by what is still not clawed back: a refund on a disputed order takes only what
 *     the dispute left, and the rest once the dispute is won and its share restored; when the
 *     refunded amount goes down (a refund failed or was canceled at Stripe), what refunds took
 *     beyond their share is restored;
 *  4. a dispute still open or lost takes its share, minus what it already took, capped by what is
 *     still not clawed back (after a full refund: nothing; when that refund later fails, the rest
 *     of its share — Stripe fails a pending refund whose charge gets disputed). A dispute first
 *     seen already won takes nothing.
 * Keys are derived from facts and from what was sent before, which the order lock serialises, so
 * a replay derives the same keys and the recorded postings make it send nothing.
 */
export function planPostings(order: Pick<OrderRow, 'id' | 'credits' | 'amount' | 'paid_amount' | 'refunded_amount'>, disputes: DisputeRow[], recorded: RecordedPosting[]): Wanted[] {
  const sent = new Map(recorded.map((p) => [p.idempotency_key, p]));
  const wanted: Wanted[] = [];
  const sum = (kind: PostingKind, cause?: PostingCause) => recorded.filter((p) => p.kind === kind && (!cause || p.cause === cause)).reduce((s, p) => s + Number(p.credits), 0);
  const granted = order.credits;
  let net = sum('clawback') - sum('restore');
  const grantKey = `order:${order.id}`;
  if (!sent.has(grantKey)) wanted.push({ key: grantKey, kind: 'grant', cause: 'purchase', credits: granted });

  // What a dispute's clawbacks took: its first take, and top-ups after a refund that capped it failed.
  const disputeKey = (d: DisputeRow) => `order:${order.id}:dispute:${d.id}`;
  const tookFor = (d: DisputeRow) =>
    recorded
      .filter((p) => p.kind === 'clawback' && (p.idempotency_key === disputeKey(d) || p.idempotency_key.startsWith(`${disputeKey(d)}:more:`)))
      .reduce((s, p) => s + Number(p.credits), 0);
  for (const d of disputes) {
    const took = tookFor(d);
    const restoreKey = `${disputeKey(d)}:restore`;
    if (took > 0 && disputeFavoursMerchant(d) && !sent.has(restoreKey)) {
      wanted.push({ key: restoreKey, kind: 'restore', cause: 'dispute', credits: took });
      net -= took;
    }
  }

  const refundTarget = creditsFor(order.refunded_amount, charged(order), order.credits);
  // What refunds hold now: taken, minus what was given back after a refund failed at Stripe.
  const refundSent = sum('clawback', 'refund') - sum('restore', 'refund');
  // Refund postings only ever grow in number: a key suffix no earlier posting of the order used.
  const refundPostings = recorded.filter((p) => p.cause === 'refund').length;
  if (refundSent > refundTarget) {
    // A refund failed or was canceled: the refunded amount went down, and what refunds took beyond
    // its share now comes back.
    const back = refundSent - refundTarget;
    wanted.push({ key: `order:${order.id}:refund-undone:${order.refunded_amount}:${refundPostings}`, kind: 'restore', cause: 'refund', credits: back });
    net -= back;
  }
  const refundTake = Math.min(refundTarget - refundSent, granted - net);
  if (refundTake > 0) {
    // Keyed by the cumulative amount refunded, so a replay of the same refund derives the same key;
    // a second take at the same amount (after a won dispute, or a failed refund, gave credits back)
    // is keyed by the refund credits held after it, and, if that was used too, by the count.
    const base = `order:${order.id}:refund:${order.refunded_amount}`;
    let key = sent.has(base) ? `${base}:credits:${refundSent + refundTake}` : base;
    if (sent.has(key)) key = `${key}:${refundPostings}`;
    wanted.push({ key, kind: 'clawback', cause: 'refund', credits: refundTake });
    net += refundTake;
  }

  for (const d of disputes) {
    if (disputeFavoursMerchant(d) || sent.has(`${disputeKey(d)}:restore`)) continue;
    const took = tookFor(d);
    const take = Math.min(creditsFor(d.amount, charged(order), order.credits) - took, granted - net);
    if (take <= 0) continue;
    // A top-up (the dispute was capped by a refund that then failed) is keyed by the dispute's count of postings.
    const disputePostings = recorded.filter((p) => p.idempotency_key.startsWith(disputeKey(d))).length;
    const key = sent.has(disputeKey(d)) ? `${disputeKey(d)}:more:${disputePostings}` : disputeKey(d);
    wanted.push({ key, kind: 'clawback', cause: 'dispute', credits: take });
    net += take;
  }
  return wanted;
}

/**
 * Brings the ledger in line with the order's facts (see planPostings for the rule) and sends the
 * commands not sent before, in the caller's transaction.
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
    // Paid after the purge and never credited: the money goes back, since the credits can go to
    // nobody. An order credited before the purge is not touched (the person used or left them).
    const credited = (await orders.listPostings(tx, orderId)).some((p) => p.kind === 'grant');
    if (!credited) await requestOrphanRefund(tx, order, deps);
    return { ...order, status };
  }

  const recorded = await orders.listPostings(tx, order.id);
  const wanted = planPostings(order, disputes, recorded);
  // Each command names the one sent before it for this order, and the ledger applies it only after
  // that one: queues reorder, and a clawback or restore applied out of turn moves credits and debt
  // differently (a clawback before its grant books debt the grant never repays).
  let previous = recorded.at(-1)?.idempotency_key;

  for (const w of wanted) {
    if (w.credits <= 0) continue;
    const fresh = await orders.recordPosting(tx, { idempotency_key: w.key, order_id: order.id, kind: w.kind, cause: w.cause, credits: w.credits });
    if (!fresh) continue;
    const command = { idempotencyKey: w.key, userId: order.user_id, amount: w.credits, reference: `order:${order.id}` };
    const after = previous === undefined ? {} : { after: previous };
    if (w.kind === 'grant') {
      await deps.bus.send(tx, 'ledger.grant', { ...command, source: 'purchase', value: saleValue(order) });
    } else {
      await deps.bus.send(tx, w.kind === 'clawback' ? 'ledger.clawback' : 'ledger.restore', { ...command, ...after });
    }
    previous = w.key;
    deps.log.info({ orderId: order.id, kind: w.kind, cause: w.cause, credits: w.credits }, 'ledger command sent');
  }
  return { ...order, status };
}

/**
 * Asks (once) for a Stripe refund of a paid order nobody can be credited for: paid after its owner's
 * purge, or whose grant the ledger refused because the purge reached the ledger first.
 */
export async function requestOrphanRefund(tx: Transaction<DB>, order: OrderRow, deps: SettleDeps): Promise<boolean> {
  if (!order.paid_at || order.auto_refund_requested_at || order.refunded_amount >= charged(order) || !order.stripe_payment_intent_id) return false;
  await orders.updateOrder(tx, order.id, { auto_refund_requested_at: new Date() });
  await deps.bus.send(tx, 'billing.refund-orphaned-order', { orderId: order.id });
  deps.log.warn({ orderId: order.id }, 'paid order nobody can be credited for; refund requested');
  return true;
}

/**
 * What the pack was sold for, net of tax: the revenue its credits carry to the ledger. An
 * inclusive price contains the tax Stripe Tax computed; an exclusive one is the revenue itself.
 */
export function saleValue(order: Pick<OrderRow, 'amount' | 'currency' | 'tax_amount' | 'tax_behavior'>): { amount: number; currency: string } {
  const tax = order.tax_behavior === 'inclusive' ? Math.min(order.tax_amount ?? 0, order.amount) : 0;
  return { amount: order.amount - tax, currency: order.currency };
}

/**
 * What Stripe should take for the order: its price, plus the tax when Stripe Tax adds it to an
 * exclusive price (an inclusive price already contains it).
 */
export function expectedPaid(order: Pick<OrderRow, 'amount' | 'tax_behavior'>, tax: number): number {
  return order.tax_behavior === 'exclusive' ? order.amount + tax : order.amount;
}

/**
 * Payment confirmed by Stripe (webhook or sweeper): the order becomes paid once, the receipt
 * event goes out once, and the ledger is settled. Safe to call any number of times.
 */
export async function markPaid(
  tx: Transaction<DB>,
  order: OrderRow,
  paymentIntentId: string | null,
  deps: SettleDeps,
  paid: { amount: number | null; currency: string | null; at?: Date | null; tax?: number | null } = { amount: null, currency: null },
): Promise<void> {
  const patch: Parameters<typeof orders.updateOrder>[2] = {};
  if (paymentIntentId && !order.stripe_payment_intent_id) patch.stripe_payment_intent_id = paymentIntentId;
  if (order.paid_amount === null && paid.amount !== null) {
    patch.paid_amount = paid.amount;
    patch.paid_currency = paid.currency?.toLowerCase() ?? order.currency;
    if (order.tax_amount === null && paid.tax !== undefined && paid.tax !== null) patch.tax_amount = paid.tax;
    if (paid.amount !== expectedPaid(order, paid.tax ?? 0) || patch.paid_currency !== order.currency) {
      // The session was created with the order's own price; a difference means something upstream changed it.
      deps.log.error({ orderId: order.id }, 'paid amount differs from the order amount; flagged for reconciliation');
    }
  }
  const firstTime = !order.paid_at;
  if (firstTime) {
    // Stripe's time of the payment when known (reconciliation periods then match Stripe's reports),
    // never one in the future (a skewed clock).
    patch.paid_at = paid.at && paid.at.getTime() <= Date.now() ? paid.at : new Date();
    patch.status = 'paid';
    patch.closed_at = null;
  }
  if (Object.keys(patch).length) await orders.updateOrder(tx, order.id, patch);
  if (firstTime && order.user_id) {
    await deps.bus.send(tx, 'order.paid', { orderId: order.id, userId: order.user_id, credits: order.credits, amount: order.amount, currency: order.currency });
  }
  await settleOrder(tx, order.id, deps);
}
