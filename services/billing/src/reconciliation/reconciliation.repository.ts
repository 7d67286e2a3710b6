import { sql, type Db } from '@imlab/db';
import type { DB, PostingKind } from '../db.js';

/** ledger.posted: what the ledger actually did for a key. A redelivery changes nothing. */
export async function recordLedgerPosting(
  db: Db<DB>,
  row: { idempotency_key: string; order_id: string | null; kind: PostingKind; amount: number; debt: number },
): Promise<void> {
  await db.insertInto('ledger_postings').values(row).onConflict((oc) => oc.column('idempotency_key').doNothing()).execute();
}

export interface ReconRow {
  id: string;
  status: string;
  currency: string;
  amount: number;
  credits: number;
  refunded_amount: number;
  paid_at: Date;
  paid_amount: number | null;
  paid_currency: string | null;
  auto_refund_requested_at: Date | null;
  tax_amount: number | null;
  tax_behavior: 'inclusive' | 'exclusive' | null;
  ledger_granted: number;
  ledger_clawed_back: number;
  ledger_debt: number;
  ledger_restored: number;
  sent_clawed_back: number;
  sent_restored: number;
}

/** Orders paid within [from, to), with what the ledger reported posting for each. */
export async function paidOrdersWithLedger(db: Db<DB>, from: Date, to: Date): Promise<ReconRow[]> {
  const ledgerSum = (kind: PostingKind, expr: ReturnType<typeof sql>) =>
    sql<number>`coalesce((select sum(${expr}) from ledger_postings l where l.order_id = o.id and l.kind = ${kind}), 0)::bigint`;
  const sentSum = (kind: PostingKind) => sql<number>`coalesce((select sum(p.credits) from order_postings p where p.order_id = o.id and p.kind = ${kind}), 0)::bigint`;
  const rows = await db
    .selectFrom('orders as o')
    .select([
      'o.id',
      'o.status',
      'o.currency',
      'o.amount',
      'o.credits',
      'o.refunded_amount',
      'o.paid_at',
      'o.paid_amount',
      'o.paid_currency',
      'o.auto_refund_requested_at',
      'o.tax_amount',
      'o.tax_behavior',
      ledgerSum('grant', sql`l.amount`).as('ledger_granted'),
      // A clawback takes what is available (`amount`) and books the rest as debt (`debt`).
      ledgerSum('clawback', sql`l.amount + l.debt`).as('ledger_clawed_back'),
      ledgerSum('clawback', sql`l.debt`).as('ledger_debt'),
      // A restore first cancels debt (reported as `debt`), then credits the rest (`amount`).
      ledgerSum('restore', sql`l.amount + l.debt`).as('ledger_restored'),
      // What billing asked for: how much a clawback or restore carries depends on the order the
      // events came in (a dispute after a full refund takes nothing), so the facts fix only the net.
      sentSum('clawback').as('sent_clawed_back'),
      sentSum('restore').as('sent_restored'),
    ])
    .where('o.paid_at', '>=', from)
    .where('o.paid_at', '<', to)
    .orderBy('o.paid_at')
    .orderBy('o.id')
    .execute();
  return rows as ReconRow[];
}

/** The disputes of the orders paid within [from, to): one join, however many orders (no list of ids as bind parameters). */
export async function disputesOf(db: Db<DB>, from: Date, to: Date): Promise<{ id: string; order_id: string; amount: number; status: string; funds_reinstated: boolean }[]> {
  return db
    .selectFrom('order_disputes as d')
    .innerJoin('orders as o', 'o.id', 'd.order_id')
    .select(['d.id', 'd.order_id', 'd.amount', 'd.status', 'd.funds_reinstated'])
    .where('o.paid_at', '>=', from)
    .where('o.paid_at', '<', to)
    .execute();
}
