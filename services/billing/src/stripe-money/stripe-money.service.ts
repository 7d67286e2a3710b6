import type { Db } from '@imlab/db';
import { invalidCursor, type Period } from '@imlab/http';
import type { DB } from '../db.js';
import * as repo from './stripe-money.repository.js';

export type DifferenceKind = 'fee' | 'timing' | 'unmatched' | 'amount';

export interface Difference {
  kind: DifferenceKind;
  /** Minor units of the line's currency; what this item puts between our sales and the payout. */
  amount: number;
  explanation: string;
}

export interface TransactionView {
  transactionId: string;
  type: string;
  reportingCategory: string | null;
  amount: number;
  fee: number;
  net: number;
  currency: string;
  createdAt: string;
  /** When the books count it: `createdAt`, or the start of the next open period if it arrived after its month was closed. */
  bookedAt: string;
  status: string | null;
  sourceId: string | null;
  paymentIntentId: string | null;
  orderId: string | null;
  payoutId: string | null;
  differences: Difference[];
}

/** Money moves that belong to a customer payment, hence to one of our orders. */
const PAYMENT_TYPES = new Set(['charge', 'payment', 'refund', 'payment_refund', 'payment_failure_refund', 'adjustment']);

const inPeriod = (d: Date | null, p: Period) => d !== null && d >= p.from && d < p.to;

/**
 * Each balance transaction with what separates it from our books: Stripe's fee, a payment no
 * order knows, a charge for another amount than the order's, or timing (moved in this period but
 * paid out in another, or paid out now for an earlier period).
 */
export function classify(line: repo.TransactionLine, period: Period): TransactionView {
  const differences: Difference[] = [];
  const c = line.currency;
  if (line.fee !== 0) differences.push({ kind: 'fee', amount: -line.fee, explanation: `Stripe kept a fee of ${line.fee} ${c}` });
  if (line.type === 'stripe_fee') {
    differences.push({ kind: 'fee', amount: line.amount, explanation: `a Stripe fee not tied to a payment (${line.amount} ${c})` });
  } else if (PAYMENT_TYPES.has(line.type) && line.order_id === null) {
    differences.push({
      kind: 'unmatched',
      amount: line.amount,
      explanation: line.payment_intent_id ? `no order has the payment ${line.payment_intent_id}` : `the ${line.type} names no payment billing can match`,
    });
  } else if (line.type === 'charge' && line.order_id !== null) {
    const expected = line.order_paid_amount ?? line.order_amount ?? 0;
    if (line.amount !== expected) differences.push({ kind: 'amount', amount: line.amount - expected, explanation: `Stripe charged ${line.amount} ${c}, the order says ${expected} ${c}` });
  }
  const createdIn = inPeriod(line.effective_at, period);
  const paidOutIn = line.payout_status !== 'failed' && line.payout_status !== 'canceled' && inPeriod(line.payout_effective_at, period);
  if (createdIn && !paidOutIn) {
    differences.push({
      kind: 'timing',
      amount: -line.net,
      explanation: line.payout_id ? `paid out by ${line.payout_id}, outside this period` : `not paid out yet (${line.status ?? 'pending'})`,
    });
  } else if (!createdIn && paidOutIn) {
    differences.push({ kind: 'timing', amount: line.net, explanation: `earlier activity (${line.effective_at.toISOString()}) paid out in this period by ${line.payout_id}` });
  }
  return {
    transactionId: line.id,
    type: line.type,
    reportingCategory: line.reporting_category,
    amount: line.amount,
    fee: line.fee,
    net: line.net,
    currency: c,
    createdAt: line.created.toISOString(),
    bookedAt: line.effective_at.toISOString(),
    status: line.status,
    sourceId: line.source_id,
    paymentIntentId: line.payment_intent_id,
    orderId: line.order_id,
    payoutId: line.payout_id,
    differences,
  };
}

async function cursorOf<T>(cursor: string | undefined, find: (id: string) => Promise<T | undefined>): Promise<T | null> {
  if (!cursor) return null;
  if (!/^[A-Za-z0-9_]{1,255}$/.test(cursor)) throw invalidCursor();
  const found = await find(cursor);
  if (!found) throw invalidCursor();
  return found;
}

/** One page of the period's balance transactions, in (created, id) order; the cursor is the last id. */
export async function transactionsPage(db: Db<DB>, period: Period, cursor: string | undefined, limit: number): Promise<{ items: TransactionView[]; nextCursor: string | null }> {
  const after = await cursorOf(cursor, (id) => repo.transactionCursor(db, id));
  const rows = await repo.transactionLines(db, period.from, period.to, after, limit + 1);
  const page = rows.slice(0, limit);
  return { items: page.map((r) => classify(r, period)), nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
}

/** Every line of the period, page by page (for the CSV and the summary). */
export async function* allTransactions(db: Db<DB>, period: Period, pageSize = 1000): AsyncGenerator<TransactionView[]> {
  let after: { effective_at: Date; id: string } | null = null;
  for (;;) {
    const rows = await repo.transactionLines(db, period.from, period.to, after, pageSize);
    if (rows.length === 0) return;
    yield rows.map((r) => classify(r, period));
    const last = rows[rows.length - 1]!;
    after = { effective_at: last.effective_at, id: last.id };
    if (rows.length < pageSize) return;
  }
}

export interface PayoutView {
  payoutId: string;
  amount: number;
  currency: string;
  status: string;
  createdAt: string;
  arrivalDate: string | null;
  transactions: number;
  matchedToOrders: number;
  gross: number;
  fees: number;
  net: number;
  /** payout amount − Σ net of its transactions: 0 when the payout is fully explained by them. */
  difference: number;
}

const payoutView = (p: repo.PayoutLine): PayoutView => ({
  payoutId: p.id,
  amount: p.amount,
  currency: p.currency,
  status: p.status,
  createdAt: p.created.toISOString(),
  arrivalDate: p.arrival_date ? p.arrival_date.toISOString() : null,
  transactions: p.transactions,
  matchedToOrders: p.matched,
  gross: p.gross,
  fees: p.fees,
  net: p.net,
  difference: p.amount - p.net,
});

export async function payoutsPage(db: Db<DB>, period: Period, cursor: string | undefined, limit: number): Promise<{ items: PayoutView[]; nextCursor: string | null }> {
  const after = await cursorOf(cursor, (id) => repo.payoutCursor(db, id));
  const rows = await repo.payoutLines(db, period.from, period.to, after, limit + 1);
  const page = rows.slice(0, limit);
  return { items: page.map(payoutView), nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
}

export async function* allPayouts(db: Db<DB>, period: Period, pageSize = 500): AsyncGenerator<PayoutView[]> {
  let after: { effective_at: Date; id: string } | null = null;
  for (;;) {
    const rows = await repo.payoutLines(db, period.from, period.to, after, pageSize);
    if (rows.length === 0) return;
    yield rows.map(payoutView);
    const last = rows[rows.length - 1]!;
    after = { effective_at: last.effective_at, id: last.id };
    if (rows.length < pageSize) return;
  }
}

export interface StripeTieOut {
  currency: string;
  /** Our books: orders paid in the period (price, tax, what Stripe took). */
  ordersPaid: number;
  sales: number;
  tax: number;
  paidAtStripe: number;
  /** Stripe's activity created in the period, for our orders. */
  charges: number;
  refunds: number;
  disputes: number;
  /** Net sales = charges + refunds + disputes (refunds and disputes are negative). */
  netSales: number;
  fees: number;
  /** Activity no order matches (listed as `unmatched` lines). */
  unmatched: number;
  /** Stripe's net balance change from the period's activity: netSales − fees + unmatched. */
  net: number;
  notYetPaidOut: number;
  paidOutFromEarlier: number;
  payouts: number;
  /** payouts − (net − notYetPaidOut + paidOutFromEarlier); 0 when everything is explained. */
  unexplained: number;
  tiesOut: boolean;
}

/**
 * The period's tie-out per currency: Stripe's payouts = net sales − fees ± timing (± unmatched),
 * with our own orders' sales next to Stripe's charges, and the orders Stripe shows no charge for.
 */
export async function tieOut(db: Db<DB>, period: Period) {
  const by = new Map<string, StripeTieOut>();
  const row = (currency: string): StripeTieOut => {
    let t = by.get(currency);
    if (!t) {
      t = { currency, ordersPaid: 0, sales: 0, tax: 0, paidAtStripe: 0, charges: 0, refunds: 0, disputes: 0, netSales: 0, fees: 0, unmatched: 0, net: 0, notYetPaidOut: 0, paidOutFromEarlier: 0, payouts: 0, unexplained: 0, tiesOut: true };
      by.set(currency, t);
    }
    return t;
  };
  const counts: Record<DifferenceKind | 'transactions', number> = { transactions: 0, unmatched: 0, fee: 0, timing: 0, amount: 0 };
  for await (const page of allTransactions(db, period)) {
    for (const l of page) {
      counts.transactions++;
      const t = row(l.currency);
      const createdIn = new Date(l.bookedAt) >= period.from && new Date(l.bookedAt) < period.to;
      for (const d of l.differences) {
        counts[d.kind]++;
        if (d.kind === 'timing') {
          if (createdIn) t.notYetPaidOut += -d.amount;
          else t.paidOutFromEarlier += d.amount;
        }
      }
      if (!createdIn) continue;
      t.fees += l.fee;
      if (l.type === 'stripe_fee') t.fees += -l.amount;
      else if (l.differences.some((d) => d.kind === 'unmatched')) t.unmatched += l.amount;
      else if (l.type === 'charge' || l.type === 'payment') t.charges += l.amount;
      else if (l.type === 'adjustment') t.disputes += l.amount;
      else if (PAYMENT_TYPES.has(l.type)) t.refunds += l.amount;
      else t.unmatched += l.amount;
      t.net += l.net;
    }
  }
  for (const s of await repo.salesByCurrency(db, period.from, period.to)) Object.assign(row(s.currency), { ordersPaid: s.orders, sales: s.amount, tax: s.tax, paidAtStripe: s.paid });
  for (const p of await repo.payoutsByCurrency(db, period.from, period.to)) row(p.currency).payouts = p.amount;
  for (const t of by.values()) {
    t.netSales = t.charges + t.refunds + t.disputes;
    t.unexplained = t.payouts - (t.net - t.notYetPaidOut + t.paidOutFromEarlier);
    t.tiesOut = t.unexplained === 0;
  }
  const withoutCharge = await repo.paidOrdersWithoutCharge(db, period.from, period.to);
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    tz: period.tz,
    closed: null as { closedAt: string } | null,
    currencies: [...by.values()].sort((a, b) => a.currency.localeCompare(b.currency)),
    differences: counts,
    ordersWithoutCharge: withoutCharge.map((o) => ({ orderId: o.id, currency: o.currency, amount: o.paid_amount ?? o.amount, paidAt: o.paid_at.toISOString() })),
  };
}
