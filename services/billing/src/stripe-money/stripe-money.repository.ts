import { sql, type Db } from '@imlab/db';
import type { Insertable } from 'kysely';
import type { BalanceTransactionTable, DB, PayoutTable } from '../db.js';

export type BalanceTransactionInsert = Insertable<BalanceTransactionTable>;

/**
 * When a newly imported item counts in the books: Stripe's date, unless that lies in a closed
 * month — then the end of the last closed month, the start of the next open period (a closed
 * month never changes). Set on the first import only.
 */
const effectiveAt = (created: Date) => sql<Date>`greatest(${created}::timestamptz, coalesce((select max(period_to) from billing_period_closes), ${created}::timestamptz))`;

/**
 * Stores a balance transaction, or brings a stored one up to date (status, availability, its
 * payout once known). A payout link is never taken away: a later import from a list without the
 * `payout` filter does not know it.
 */
export async function upsertBalanceTransaction(db: Db<DB>, row: BalanceTransactionInsert): Promise<void> {
  await db
    .insertInto('stripe_balance_transactions')
    .values({ ...row, effective_at: effectiveAt(row.created as Date) })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        status: (eb) => eb.ref('excluded.status'),
        available_on: (eb) => eb.ref('excluded.available_on'),
        payment_intent_id: sql`coalesce(excluded.payment_intent_id, stripe_balance_transactions.payment_intent_id)`,
        payout_id: sql`coalesce(excluded.payout_id, stripe_balance_transactions.payout_id)`,
        updated_at: new Date(),
      }),
    )
    .execute();
}

export async function upsertPayout(db: Db<DB>, row: Insertable<PayoutTable>): Promise<void> {
  await db
    .insertInto('stripe_payouts')
    .values({ ...row, effective_at: effectiveAt(row.created as Date) })
    .onConflict((oc) =>
      oc.column('id').doUpdateSet({
        status: (eb) => eb.ref('excluded.status'),
        arrival_date: (eb) => eb.ref('excluded.arrival_date'),
        balance_transaction_id: sql`coalesce(excluded.balance_transaction_id, stripe_payouts.balance_transaction_id)`,
        updated_at: new Date(),
      }),
    )
    .execute();
}

/** Orders learn their charge id from the imported charges (matched by PaymentIntent). */
export async function linkChargesToOrders(db: Db<DB>): Promise<number> {
  const res = await sql`
    update orders o set stripe_charge_id = t.source_id, updated_at = now()
    from stripe_balance_transactions t
    where t.type = 'charge' and t.source_id is not null and t.payment_intent_id = o.stripe_payment_intent_id
      and o.stripe_charge_id is null
      and not exists (select 1 from orders x where x.stripe_charge_id = t.source_id)`.execute(db);
  return Number(res.numAffectedRows ?? 0);
}

export async function latestTransactionCreated(db: Db<DB>): Promise<Date | null> {
  const row = await db.selectFrom('stripe_balance_transactions').select((eb) => eb.fn.max('created').as('at')).executeTakeFirst();
  return (row?.at as Date | null | undefined) ?? null;
}

/** A balance transaction with the order it moved money for and the payout that settled it. */
export interface TransactionLine {
  id: string;
  type: string;
  reporting_category: string | null;
  amount: number;
  fee: number;
  net: number;
  currency: string;
  created: Date;
  effective_at: Date;
  status: string | null;
  source_id: string | null;
  payment_intent_id: string | null;
  payout_id: string | null;
  payout_effective_at: Date | null;
  payout_status: string | null;
  order_id: string | null;
  order_amount: number | null;
  order_paid_amount: number | null;
  order_tax_amount: number | null;
}

/**
 * The period's balance transactions: those Stripe created in [from, to) and those settled by a
 * payout created in [from, to) (a payout carries earlier activity), ordered by (created, id),
 * keyset-paged after `after`. Payout transactions themselves are left out (the payout is the row).
 */
export async function transactionLines(db: Db<DB>, from: Date, to: Date, after: { effective_at: Date; id: string } | null, limit: number): Promise<TransactionLine[]> {
  const { rows } = await sql<TransactionLine>`
    select t.id, t.type, t.reporting_category, t.amount, t.fee, t.net, t.currency, t.created, t.effective_at, t.status, t.source_id,
           t.payment_intent_id, t.payout_id, p.effective_at as payout_effective_at, p.status as payout_status,
           o.id as order_id, o.amount as order_amount, o.paid_amount as order_paid_amount, o.tax_amount as order_tax_amount
    from stripe_balance_transactions t
    left join stripe_payouts p on p.id = t.payout_id
    left join orders o on o.stripe_payment_intent_id = t.payment_intent_id
    where t.type <> 'payout'
      and ((t.effective_at >= ${from} and t.effective_at < ${to}) or (p.effective_at >= ${from} and p.effective_at < ${to}))
      ${after ? sql`and (t.effective_at, t.id) > (${after.effective_at}, ${after.id})` : sql``}
    order by t.effective_at, t.id
    limit ${limit}`.execute(db);
  return rows;
}

export async function transactionCursor(db: Db<DB>, id: string): Promise<{ effective_at: Date; id: string } | undefined> {
  return db.selectFrom('stripe_balance_transactions').select(['effective_at', 'id']).where('id', '=', id).executeTakeFirst();
}

export interface PayoutLine {
  id: string;
  amount: number;
  currency: string;
  status: string;
  created: Date;
  effective_at: Date;
  arrival_date: Date | null;
  transactions: number;
  gross: number;
  fees: number;
  net: number;
  matched: number;
}

/** Payouts created in [from, to), with the sums of the balance transactions they settled; keyset-paged. */
export async function payoutLines(db: Db<DB>, from: Date, to: Date, after: { effective_at: Date; id: string } | null, limit: number): Promise<PayoutLine[]> {
  const { rows } = await sql<PayoutLine>`
    select p.id, p.amount, p.currency, p.status, p.created, p.effective_at, p.arrival_date,
           count(t.id)::int8 as transactions,
           coalesce(sum(t.amount), 0)::int8 as gross,
           coalesce(sum(t.fee), 0)::int8 as fees,
           coalesce(sum(t.net), 0)::int8 as net,
           count(o.id)::int8 as matched
    from stripe_payouts p
    left join stripe_balance_transactions t on t.payout_id = p.id and t.type <> 'payout'
    left join orders o on o.stripe_payment_intent_id = t.payment_intent_id
    where p.effective_at >= ${from} and p.effective_at < ${to}
      ${after ? sql`and (p.effective_at, p.id) > (${after.effective_at}, ${after.id})` : sql``}
    group by p.id
    order by p.effective_at, p.id
    limit ${limit}`.execute(db);
  return rows;
}

export async function payoutCursor(db: Db<DB>, id: string): Promise<{ effective_at: Date; id: string } | undefined> {
  return db.selectFrom('stripe_payouts').select(['effective_at', 'id']).where('id', '=', id).executeTakeFirst();
}

/** Orders paid in [from, to) whose payment no imported charge names: Stripe's side of them is missing. */
export async function paidOrdersWithoutCharge(db: Db<DB>, from: Date, to: Date): Promise<{ id: string; currency: string; amount: number; paid_amount: number | null; paid_at: Date }[]> {
  const { rows } = await sql<{ id: string; currency: string; amount: number; paid_amount: number | null; paid_at: Date }>`
    select o.id, o.currency, o.amount, o.paid_amount, o.paid_at
    from orders o
    where o.paid_at >= ${from} and o.paid_at < ${to}
      and not exists (select 1 from stripe_balance_transactions t where t.type = 'charge' and t.payment_intent_id = o.stripe_payment_intent_id)
    order by o.paid_at, o.id`.execute(db);
  return rows;
}

/** What our books say was sold in [from, to), per currency: paid orders (price, what Stripe took, tax). */
export async function salesByCurrency(db: Db<DB>, from: Date, to: Date): Promise<{ currency: string; orders: number; amount: number; paid: number; tax: number }[]> {
  const { rows } = await sql<{ currency: string; orders: number; amount: number; paid: number; tax: number }>`
    select o.currency, count(*)::int8 as orders, coalesce(sum(o.amount), 0)::int8 as amount,
           coalesce(sum(coalesce(o.paid_amount, o.amount)), 0)::int8 as paid, coalesce(sum(o.tax_amount), 0)::int8 as tax
    from orders o
    where o.paid_at >= ${from} and o.paid_at < ${to}
    group by o.currency
    order by o.currency`.execute(db);
  return rows;
}

/** Payouts created in [from, to) per currency (failed and canceled ones moved no money). */
export async function payoutsByCurrency(db: Db<DB>, from: Date, to: Date): Promise<{ currency: string; payouts: number; amount: number }[]> {
  const { rows } = await sql<{ currency: string; payouts: number; amount: number }>`
    select currency, count(*)::int8 as payouts, coalesce(sum(amount), 0)::int8 as amount
    from stripe_payouts
    where effective_at >= ${from} and effective_at < ${to} and status not in ('failed', 'canceled')
    group by currency order by currency`.execute(db);
  return rows;
}

export interface BillingCloseRow {
  month: string;
  tz: string;
  period_from: Date;
  period_to: Date;
  closed_at: Date;
  figures: unknown;
}

export async function findClose(db: Db<DB>, month: string, tz: string): Promise<BillingCloseRow | undefined> {
  return db.selectFrom('billing_period_closes').selectAll().where('month', '=', month).where('tz', '=', tz).executeTakeFirst() as Promise<BillingCloseRow | undefined>;
}

/** Records a close; false when that month in that zone was closed before. */
export async function insertClose(db: Db<DB>, row: { month: string; tz: string; period_from: Date; period_to: Date; figures: string }): Promise<boolean> {
  const inserted = await db.insertInto('billing_period_closes').values(row).onConflict((oc) => oc.columns(['month', 'tz']).doNothing()).returning('month').executeTakeFirst();
  return inserted !== undefined;
}
