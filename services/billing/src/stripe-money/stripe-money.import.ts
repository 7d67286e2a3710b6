import type { Db } from '@imlab/db';
import type { Logger } from '@imlab/logger';
import { AppError } from '@imlab/http';
import type { DB } from '../db.js';
import type { Stripe } from '../stripe/stripe-client.js';
import * as repo from './stripe-money.repository.js';

export interface ImportDeps {
  /** A pool or the caller's transaction (the webhook handler imports inside the event's). */
  db: Db<DB>;
  stripe: Stripe;
  log: Logger;
}

export interface ImportResult {
  balanceTransactions: number;
  payouts: number;
  chargesLinked: number;
}

const at = (unix: number | null | undefined) => (typeof unix === 'number' ? new Date(unix * 1000) : null);
const unix = (d: Date) => Math.floor(d.getTime() / 1000);
const idOf = (v: unknown): string | null => (typeof v === 'string' ? v : v && typeof v === 'object' && typeof (v as { id?: unknown }).id === 'string' ? (v as { id: string }).id : null);

/**
 * What billing keeps of a balance transaction: ids, amounts, fee, currency, dates, type and the
 * source's id with its PaymentIntent (the source is expanded for that one id, then dropped).
 * Charges, refunds and disputes all name their PaymentIntent, which is how orders are found.
 */
function toRow(t: Stripe.BalanceTransaction, payoutId: string | null): repo.BalanceTransactionInsert {
  const source = t.source as unknown;
  const paymentIntent = source && typeof source === 'object' ? idOf((source as { payment_intent?: unknown }).payment_intent) : null;
  return {
    id: t.id,
    type: t.type,
    reporting_category: t.reporting_category ?? null,
    amount: t.amount,
    fee: t.fee,
    net: t.net,
    currency: t.currency.toLowerCase(),
    created: at(t.created)!,
    available_on: at(t.available_on),
    status: t.status ?? null,
    source_id: idOf(source),
    payment_intent_id: paymentIntent,
    payout_id: payoutId,
  };
}

function toPayoutRow(p: Stripe.Payout) {
  return {
    id: p.id,
    amount: p.amount,
    currency: p.currency.toLowerCase(),
    status: p.status,
    created: at(p.created)!,
    arrival_date: at(p.arrival_date),
    balance_transaction_id: idOf(p.balance_transaction),
  };
}

async function stripeCall<T>(log: Logger, what: string, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { type?: string; message?: string; statusCode?: number };
    log.warn({ what, err: { type: e.type, statusCode: e.statusCode, message: e.message } }, 'stripe import failed');
    throw new AppError('FINANCE_STRIPE_UNAVAILABLE', { cause: err });
  }
}

/** Every balance transaction a payout settled (Stripe's `payout` filter), linked to it. */
export async function importPayoutTransactions(deps: ImportDeps, payoutId: string): Promise<number> {
  return stripeCall(deps.log, 'payout transactions', async () => {
    let n = 0;
    for await (const t of deps.stripe.balanceTransactions.list({ payout: payoutId, limit: 100, expand: ['data.source'] })) {
      await repo.upsertBalanceTransaction(deps.db, toRow(t, payoutId));
      n++;
    }
    return n;
  });
}

/** One payout (from the payout.paid webhook or a list) and the transactions it settled. */
export async function importPayout(deps: ImportDeps, payout: Stripe.Payout): Promise<number> {
  await repo.upsertPayout(deps.db, toPayoutRow(payout));
  return importPayoutTransactions(deps, payout.id);
}

/**
 * Imports Stripe's balance transactions and payouts created in [from, to) through the SDK's
 * auto-pagination (100 a page, `starting_after` until `has_more` is false), then every payout's
 * own transactions. Upserts by Stripe id: importing a period twice leaves the same rows.
 */
export async function importPeriod(deps: ImportDeps, from: Date, to: Date): Promise<ImportResult> {
  const created = { gte: unix(from), lt: unix(to) };
  let balanceTransactions = 0;
  await stripeCall(deps.log, 'balance transactions', async () => {
    for await (const t of deps.stripe.balanceTransactions.list({ created, limit: 100, expand: ['data.source'] })) {
      await repo.upsertBalanceTransaction(deps.db, toRow(t, null));
      balanceTransactions++;
    }
  });
  const payouts: Stripe.Payout[] = [];
  await stripeCall(deps.log, 'payouts', async () => {
    for await (const p of deps.stripe.payouts.list({ created, limit: 100 })) payouts.push(p);
  });
  for (const p of payouts) balanceTransactions += await importPayout(deps, p);
  const chargesLinked = await repo.linkChargesToOrders(deps.db);
  deps.log.info({ from: from.toISOString(), to: to.toISOString(), balanceTransactions, payouts: payouts.length, chargesLinked }, 'stripe money imported');
  return { balanceTransactions, payouts: payouts.length, chargesLinked };
}

/**
 * balance.available: funds became available; the transactions since the newest one stored (a day
 * back for ones Stripe dated late, at most 31 days) are imported so the next report has them.
 */
export async function importRecent(deps: ImportDeps, now = new Date()): Promise<ImportResult> {
  const latest = await repo.latestTransactionCreated(deps.db);
  const floor = now.getTime() - 31 * 86_400_000;
  const from = new Date(Math.max(floor, (latest?.getTime() ?? floor) - 86_400_000));
  return importPeriod(deps, from, new Date(now.getTime() + 1000));
}
