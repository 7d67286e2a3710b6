import type { Kysely } from '@imlab/db';
import { AppError } from '@imlab/http';
import type { DB } from '../db.js';
import { expectedPaid, factsNetClawback } from '../orders/settlement.service.js';
import * as repo from './reconciliation.repository.js';

const MAX_PERIOD_MS = 366 * 24 * 3600 * 1000;

export interface ReconOrder {
  orderId: string;
  status: string;
  currency: string;
  amount: number;
  refundedAmount: number;
  disputedAmount: number;
  paidAt: string;
  /** Tax Stripe Tax computed (null without Stripe Tax) and whether the price included it. */
  tax: number | null;
  taxBehavior: 'inclusive' | 'exclusive' | null;
  expected: { granted: number; clawedBack: number; restored: number };
  ledger: { granted: number; clawedBack: number; restored: number; debt: number };
  matches: boolean;
}

export interface CurrencyTotals {
  currency: string;
  orders: number;
  gross: number;
  refunded: number;
  disputesLost: number;
  net: number;
  /** Tax collected on the period's orders (part of what customers paid, not revenue). */
  tax: number;
  creditsGranted: number;
  creditsClawedBack: number;
  creditsRestored: number;
}

/**
 * Each order paid in the period against what the ledger reported (ledger.posted): expected
 * credits follow from the order's facts (price, cumulative refund, disputes), the same rules the
 * settlement uses; any difference is listed with its reasons.
 */
/**
 * One way an order disagrees with the ledger, as data (the web app says it in the reader's
 * language); `reasonText` is the English sentence the API and the CSV also carry.
 */
export type ReconIssue =
  | { kind: 'orphan-refund-pending'; actual: number; expected: number; currency: string }
  | { kind: 'paid-differs'; actual: number; currency: string | null; expected: number; expectedCurrency: string }
  | { kind: 'grant-missing' }
  | { kind: 'granted' | 'clawed-back' | 'restored' | 'net-clawback'; actual: number; expected: number };

export function reasonText(i: ReconIssue): string {
  switch (i.kind) {
    case 'orphan-refund-pending':
      return `paid after its owner's purge: the automatic refund is not confirmed by Stripe yet (${i.actual} of ${i.expected} refunded)`;
    case 'paid-differs':
      return `Stripe reported ${i.actual} ${i.currency ?? '?'} paid for an order of ${i.expected} ${i.expectedCurrency}`;
    case 'grant-missing':
      return 'grant not posted by the ledger';
    case 'granted':
      return `granted ${i.actual}, expected ${i.expected}`;
    case 'clawed-back':
      return `clawed back ${i.actual}, expected ${i.expected}`;
    case 'restored':
      return `restored ${i.actual}, expected ${i.expected}`;
    case 'net-clawback':
      return `billing clawed back ${i.actual} net, the refunds and disputes call for ${i.expected}`;
  }
}

export async function reconcile(db: Kysely<DB>, fromIso: string, toIso: string) {
  const from = new Date(fromIso);
  const to = new Date(toIso);
  if (!(to > from)) throw new AppError('BILLING_RECONCILIATION_PERIOD_INVALID', { params: { rule: 'order' } });
  if (to.getTime() - from.getTime() > MAX_PERIOD_MS) throw new AppError('BILLING_RECONCILIATION_PERIOD_INVALID', { params: { rule: 'length', maxDays: MAX_PERIOD_MS / 86_400_000 } });

  const rows = await repo.paidOrdersWithLedger(db, from, to);
  const disputes = await repo.disputesOf(db, from, to);
  const orders: ReconOrder[] = [];
  const mismatches: { orderId: string; reasons: string[]; issues: ReconIssue[] }[] = [];
  const totals = new Map<string, CurrencyTotals>();

  for (const r of rows) {
    const own = disputes.filter((d) => d.order_id === r.id);
    const disputesLost = own.filter((d) => d.status === 'lost').reduce((s, d) => s + d.amount, 0);
    // Expected clawbacks and restores are the commands billing sent (their split depends on the
    // order events arrived in); their net must equal what the facts call for, capped at the pack.
    const ledger = { granted: Number(r.ledger_granted), clawedBack: Number(r.ledger_clawed_back), restored: Number(r.ledger_restored), debt: Number(r.ledger_debt) };
    // Paid after its owner's purge (or its grant refused for that reason) and refunded at Stripe
    // automatically: no credits were ever issued, so nothing is expected of the ledger at all.
    const orphan = r.auto_refund_requested_at !== null && ledger.granted === 0;
    const expected = orphan ? { granted: 0, clawedBack: 0, restored: 0 } : { granted: r.credits, clawedBack: Number(r.sent_clawed_back), restored: Number(r.sent_restored) };
    const netFromFacts = orphan ? 0 : factsNetClawback(r, own);
    const issues: ReconIssue[] = [];
    if (orphan && r.refunded_amount < r.amount) issues.push({ kind: 'orphan-refund-pending', actual: r.refunded_amount, expected: r.amount, currency: r.currency });
    const due = expectedPaid(r, r.tax_amount ?? 0);
    if (r.paid_amount !== null && (r.paid_amount !== due || r.paid_currency !== r.currency)) {
      issues.push({ kind: 'paid-differs', actual: r.paid_amount, currency: r.paid_currency, expected: due, expectedCurrency: r.currency });
    }
    if (ledger.granted === 0 && !orphan) issues.push({ kind: 'grant-missing' });
    else if (ledger.granted !== expected.granted) issues.push({ kind: 'granted', actual: ledger.granted, expected: expected.granted });
    if (ledger.clawedBack !== expected.clawedBack) issues.push({ kind: 'clawed-back', actual: ledger.clawedBack, expected: expected.clawedBack });
    if (ledger.restored !== expected.restored) issues.push({ kind: 'restored', actual: ledger.restored, expected: expected.restored });
    if (expected.clawedBack - expected.restored !== netFromFacts) issues.push({ kind: 'net-clawback', actual: expected.clawedBack - expected.restored, expected: netFromFacts });
    const reasons = issues.map(reasonText);
    if (issues.length) mismatches.push({ orderId: r.id, reasons, issues });
    orders.push({
      orderId: r.id,
      status: r.status,
      currency: r.currency,
      amount: r.amount,
      refundedAmount: r.refunded_amount,
      disputedAmount: own.reduce((s, d) => s + d.amount, 0),
      paidAt: r.paid_at.toISOString(),
      tax: r.tax_amount,
      taxBehavior: r.tax_behavior,
      expected,
      ledger,
      matches: reasons.length === 0,
    });

    const t = totals.get(r.currency) ?? {
      currency: r.currency,
      orders: 0,
      gross: 0,
      refunded: 0,
      disputesLost: 0,
      net: 0,
      tax: 0,
      creditsGranted: 0,
      creditsClawedBack: 0,
      creditsRestored: 0,
    };
    t.orders += 1;
    t.gross += r.amount;
    t.refunded += r.refunded_amount;
    t.disputesLost += disputesLost;
    t.net = t.gross - t.refunded - t.disputesLost;
    t.tax += r.tax_amount ?? 0;
    t.creditsGranted += ledger.granted;
    t.creditsClawedBack += ledger.clawedBack;
    t.creditsRestored += ledger.restored;
    totals.set(r.currency, t);
  }
  return {
    from: from.toISOString(),
    to: to.toISOString(),
    orders,
    mismatches,
    totals: [...totals.values()].sort((a, b) => a.currency.localeCompare(b.currency)),
  };
}
