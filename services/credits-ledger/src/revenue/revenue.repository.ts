import { sql, type Db, type Transaction } from '@imlab/db';
import type { Insertable, Selectable } from 'kysely';
import type { DB, MovementKind, RevenueLotTable, RevenueMovementTable } from '../db.js';

export type Lot = Selectable<RevenueLotTable>;

/** One recogniser at a time: a second caller (a report catching up) waits for the first batch to commit. */
export async function tryLockRecogniser(tx: Transaction<DB>): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`select pg_advisory_xact_lock(hashtextextended('ledger:revenue', 0)) is not null as ok`.execute(tx);
  return rows[0]!.ok;
}

export async function readCursor(tx: Transaction<DB>): Promise<{ xid: string; id: number }> {
  const { rows } = await sql<{ xid: string; id: number }>`select last_xid::text as xid, last_transfer_id as id from revenue_cursor where id = 1 for update`.execute(tx);
  return rows[0]!;
}

export async function writeCursor(tx: Transaction<DB>, at: { xid: string; id: number }): Promise<void> {
  await sql`update revenue_cursor set last_xid = ${at.xid}::xid8, last_transfer_id = ${at.id} where id = 1`.execute(tx);
}

export interface TransferToRecognise {
  id: number;
  xid: string;
  kind: string;
  amount: number;
  subject_id: string | null;
  debit_account_id: string;
  credit_account_id: string;
  reference: string | null;
  created_at: Date;
  posting_key: string | null;
  value_amount: number | null;
  value_currency: string | null;
}

/**
 * The next transfers in hash-chain order (xid, id) below the snapshot's xmin — a set no running
 * transaction can add to, as the sealer reads it — so none is skipped however commits interleave.
 * Causality holds in that order: a capture's transaction wrote after the grant it spends committed.
 */
export async function nextTransfers(tx: Transaction<DB>, after: { xid: string; id: number }, limit: number): Promise<TransferToRecognise[]> {
  const { rows } = await sql<TransferToRecognise>`
    select t.id, t.xid::text as xid, t.kind, t.amount, t.subject_id, t.debit_account_id, t.credit_account_id, t.reference, t.created_at,
           p.idempotency_key as posting_key, p.value_amount, p.value_currency
    from transfers t
    left join postings p on p.id = t.posting_id
    where (t.xid, t.id) > (${after.xid}::xid8, ${after.id}::int8)
      and t.xid < pg_snapshot_xmin(pg_current_snapshot())
    order by t.xid, t.id
    limit ${limit}`.execute(tx);
  return rows;
}

export async function insertLot(tx: Transaction<DB>, lot: Insertable<RevenueLotTable>): Promise<Lot> {
  return tx.insertInto('revenue_lots').values(lot).returningAll().executeTakeFirstOrThrow();
}

/** A pool's lots with credits left, oldest first; those of `reference` (the order a clawback is about) first of all. */
export async function openLots(tx: Transaction<DB>, pool: string, reference: string | null): Promise<Lot[]> {
  return tx
    .selectFrom('revenue_lots')
    .selectAll()
    .where('pool', '=', pool)
    .where('remaining', '>', 0)
    .orderBy(sql`(reference is not distinct from ${reference} and ${reference}::text is not null)`, 'desc')
    .orderBy('id')
    .forUpdate()
    .execute();
}

/** The newest lot a purchase reference opened in this pool (what a restore refills). */
export async function lotOfReference(tx: Transaction<DB>, pool: string, reference: string): Promise<Lot | undefined> {
  return tx
    .selectFrom('revenue_lots')
    .selectAll()
    .where('pool', '=', pool)
    .where('reference', '=', reference)
    .where('source', 'in', ['purchase', 'unpriced'])
    .orderBy('id', 'desc')
    .forUpdate()
    .executeTakeFirst();
}

export async function updateLot(tx: Transaction<DB>, id: number, remaining: number, remainingValue: number): Promise<void> {
  await tx.updateTable('revenue_lots').set({ remaining, remaining_value: remainingValue }).where('id', '=', id).execute();
}

export async function insertMovements(tx: Transaction<DB>, rows: Insertable<RevenueMovementTable>[]): Promise<void> {
  if (rows.length) await tx.insertInto('revenue_movements').values(rows).execute();
}

export async function erasedAccountId(db: Db<DB>): Promise<string> {
  const row = await db.selectFrom('accounts').select('id').where('type', '=', 'erased').where('owner_id', 'is', null).executeTakeFirst();
  return row?.id ?? '00000000-0000-0000-0000-000000000000';
}

/**
 * user.purge, before their transfers go: the person's lots stay (their unspent credits are still
 * owed to nobody in particular) and so do the movements (past figures never change), but nothing
 * ties them together any more: the lots lose their account and their order, the movements of the
 * person's lots and transfers lose their lot and their order. What is left are amounts at instants,
 * not one person's history of buying and spending.
 */
export async function unlinkPools(tx: Transaction<DB>, accountIds: string[]): Promise<void> {
  if (accountIds.length === 0) return;
  const lots = tx.selectFrom('revenue_lots').select('id').where('pool', 'in', accountIds);
  const transfers = tx.selectFrom('transfers').select('id').where('subject_id', 'in', accountIds);
  await tx
    .updateTable('revenue_movements')
    .set({ lot_id: null, reference: null })
    .where((eb) => eb.or([eb('lot_id', 'in', lots), eb('transfer_id', 'in', transfers)]))
    .execute();
  await tx.updateTable('revenue_lots').set({ pool: null, reference: null }).where('pool', 'in', accountIds).execute();
}

export interface MovementSums {
  currency: string | null;
  kind: MovementKind;
  before: boolean;
  credits: number;
  amount: number;
}

/** Movements before `from` and within [from, to), summed per currency and kind. */
export async function movementSums(db: Db<DB>, from: Date, to: Date): Promise<MovementSums[]> {
  const { rows } = await sql<MovementSums>`
    select currency, kind, created_at < ${from} as before, sum(credits)::int8 as credits, sum(amount)::int8 as amount
    from revenue_movements
    where created_at < ${to}
    group by 1, 2, 3`.execute(db);
  return rows;
}

/** Credits people hold at `before` per the transfers: their available and held accounts and `erased` (people who left). */
export async function heldByPeople(db: Db<DB>, before: Date): Promise<number> {
  const { rows } = await sql<{ n: number }>`
    with people as (select id from accounts where type in ('available', 'held', 'erased'))
    select (coalesce((select sum(amount) from transfers where created_at < ${before} and credit_account_id in (select id from people)), 0)
          - coalesce((select sum(amount) from transfers where created_at < ${before} and debit_account_id in (select id from people)), 0))::int8 as n`.execute(db);
  return rows[0]?.n ?? 0;
}

export interface MovementLine {
  id: number;
  created_at: Date;
  kind: MovementKind;
  credits: number;
  amount: number;
  currency: string | null;
  lot_id: number | null;
  transfer_id: number;
  reference: string | null;
}

export async function movementLines(db: Db<DB>, from: Date, to: Date, afterId: number, limit: number): Promise<MovementLine[]> {
  return db
    .selectFrom('revenue_movements')
    .select(['id', 'created_at', 'kind', 'credits', 'amount', 'currency', 'lot_id', 'transfer_id', 'reference'])
    .where('created_at', '>=', from)
    .where('created_at', '<', to)
    .where('id', '>', afterId)
    .orderBy('id')
    .limit(limit)
    .execute();
}

/** The end of the latest closed period: nothing may be dated before it any more. */
export async function closedUntil(db: Db<DB>): Promise<Date | null> {
  const row = await db.selectFrom('period_closes').select((eb) => eb.fn.max('period_to').as('until')).executeTakeFirst();
  return (row?.until as Date | null | undefined) ?? null;
}

/** What the lots hold now, per currency: the liability computed from the other side. */
export async function lotsNow(db: Db<DB>): Promise<{ currency: string | null; remaining: number; remaining_value: number }[]> {
  const { rows } = await sql<{ currency: string | null; remaining: number; remaining_value: number }>`
    select currency, sum(remaining)::int8 as remaining, sum(remaining_value)::int8 as remaining_value from revenue_lots group by currency`.execute(db);
  return rows;
}

export interface CloseRow {
  month: string;
  tz: string;
  period_from: Date;
  period_to: Date;
  closed_at: Date;
  checkpoint_id: number | null;
  checkpoint_hash: string | null;
  last_transfer_id: number | null;
  figures: unknown;
}

/** Records a close; false when that month in that zone was closed before. */
export async function insertClose(tx: Transaction<DB>, row: Omit<CloseRow, 'closed_at' | 'figures'> & { figures: string }): Promise<boolean> {
  const inserted = await tx.insertInto('period_closes').values(row).onConflict((oc) => oc.columns(['month', 'tz']).doNothing()).returning('month').executeTakeFirst();
  return inserted !== undefined;
}

export async function findClose(db: Db<DB>, month: string, tz: string): Promise<CloseRow | undefined> {
  return db.selectFrom('period_closes').selectAll().where('month', '=', month).where('tz', '=', tz).executeTakeFirst() as Promise<CloseRow | undefined>;
}

export async function listCloses(db: Db<DB>): Promise<CloseRow[]> {
  return db.selectFrom('period_closes').selectAll().orderBy('period_from', 'desc').limit(240).execute() as Promise<CloseRow[]>;
}

/** The newest sealed checkpoint: the tamper-evidence state of the books at a close. */
export async function latestCheckpoint(db: Db<DB>): Promise<{ id: number; hash: string; last_transfer_id: number } | undefined> {
  return db.selectFrom('checkpoints').select(['id', 'hash', 'last_transfer_id']).orderBy('id', 'desc').limit(1).executeTakeFirst();
}
