import { sql, type Db, type Kysely, type RawBuilder, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import { lockSealing } from '../audit/audit.repository.js';

// Monthly totals (migration 0009): the reads that summed every transfer ever made — the trial
// balance, a system account's balance — add the totals of the months rolled up to the transfers
// of the time no total covers (the current month, a month a purge reopened), which they find by
// `transfers_created_at`. The totals are made by the background from the transfers, never by the
// write path.

/** How long after a month ends it is rolled up: no posting still open can date a transfer in it. */
export const ROLL_UP_AFTER_MS = 60 * 60_000;

const monthStart = (d: Date, plus = 0) => new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() + plus, 1));
const monthEnd = (m: Date) => monthStart(m, 1);

/** What a read sums: the monthly totals of `months`, and the transfers `uncovered` selects. */
export interface Coverage {
  months: Date[];
  /** A condition on `created_at`: the transfers in the read's time that no month of `months` covers. */
  uncovered: RawBuilder<unknown>;
}

/**
 * The rolled-up months wholly inside the read's time, and the rest of that time as ranges of
 * `created_at`. The read's time is everything up to `bound`: at or before it when `inclusive` (a
 * trial balance "as of"), strictly before it otherwise (an opening balance); all time when null.
 */
export async function coverage(db: Db<DB>, bound: Date | null, inclusive: boolean): Promise<Coverage> {
  const rows = await db.selectFrom('total_months').select('month').orderBy('month').execute();
  const months = rows.map((r) => r.month).filter((m) => bound === null || monthEnd(m).getTime() <= bound.getTime());
  const ranges: RawBuilder<unknown>[] = [];
  let from: Date | null = null;
  for (const m of months) {
    if (from === null) ranges.push(sql`created_at < ${m}`);
    else if (from.getTime() < m.getTime()) ranges.push(sql`(created_at >= ${from} and created_at < ${m})`);
    from = monthEnd(m);
  }
  const upTo = bound === null ? null : inclusive ? sql`created_at <= ${bound}` : sql`created_at < ${bound}`;
  if (from === null) ranges.push(upTo ?? sql`true`);
  else ranges.push(upTo ? sql`(created_at >= ${from} and ${upTo})` : sql`created_at >= ${from}`);
  return { months, uncovered: sql`(${sql.join(ranges, sql` or `)})` };
}

export interface Total {
  type: string;
  account_id: string | null;
  debits: number;
  credits: number;
}

/** The summed totals of `months`, per system account and per user account type. */
export async function totalsOf(db: Db<DB>, months: Date[], accountId?: string): Promise<Total[]> {
  if (months.length === 0) return [];
  let q = db
    .selectFrom('monthly_totals')
    .select(['type', 'account_id', sql<number>`sum(debits)::int8`.as('debits'), sql<number>`sum(credits)::int8`.as('credits')])
    .where('month', 'in', months)
    .groupBy(['type', 'account_id']);
  if (accountId) q = q.where('account_id', '=', accountId);
  return q.execute();
}

/**
 * Runs `fn` on one snapshot (REPEATABLE READ): the months rolled up, their totals and the
 * transfers outside them are read as of one instant, so a purge committing in between cannot be
 * counted twice or not at all. Inside a caller's transaction, that transaction's.
 */
export async function onOneSnapshot<T>(db: Db<DB>, fn: (db: Db<DB>) => Promise<T>): Promise<T> {
  if (db.isTransaction) return fn(db);
  return (db as Kysely<DB>).transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(fn);
}

/** The months from the first transfer's to the last one ended `ROLL_UP_AFTER_MS` before `now` that have no totals. */
export async function monthsToRollUp(db: Db<DB>, now: Date): Promise<Date[]> {
  const first = (await sql<{ at: Date | null }>`select min(created_at) as at from transfers`.execute(db)).rows[0]?.at;
  if (!first) return [];
  const done = new Set((await db.selectFrom('total_months').select('month').execute()).map((r) => r.month.getTime()));
  const out: Date[] = [];
  for (let m = monthStart(first); monthEnd(m).getTime() + ROLL_UP_AFTER_MS <= now.getTime(); m = monthEnd(m)) {
    if (!done.has(m.getTime())) out.push(m);
  }
  return out;
}

/**
 * Rolls up one month from its transfers, under the sealer's lock (a purge, which reopens the months
 * it rewrites, holds it too: it has committed before these statements' snapshots, or starts after
 * this commits). Returns false when the month was rolled up meanwhile.
 */
export async function rollUpMonth(tx: Transaction<DB>, month: Date): Promise<boolean> {
  await lockSealing(tx);
  const inserted = await tx.insertInto('total_months').values({ month }).onConflict((oc) => oc.column('month').doNothing()).executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
  const end = monthEnd(month);
  await sql`
    insert into monthly_totals (month, type, account_id, debits, credits)
    with d as (select debit_account_id as acc, sum(amount) as s from transfers where created_at >= ${month} and created_at < ${end} group by 1),
         c as (select credit_account_id as acc, sum(amount) as s from transfers where created_at >= ${month} and created_at < ${end} group by 1),
         acc as (select acc from d union select acc from c)
    select ${month}::timestamptz, a.type, case when a.owner_id is null then a.id end,
           coalesce(sum(d.s), 0)::int8, coalesce(sum(c.s), 0)::int8
    from acc
    join accounts a on a.id = acc.acc
    left join d on d.acc = acc.acc
    left join c on c.acc = acc.acc
    group by 2, 3`.execute(tx);
  return true;
}

/** Rolls up at most `limit` of the months due, oldest first, one transaction each. Returns how many. */
export async function rollUpClosedMonths(db: Kysely<DB>, now = new Date(), limit = 3): Promise<number> {
  let n = 0;
  for (const month of (await monthsToRollUp(db, now)).slice(0, limit)) {
    if (await db.transaction().execute((tx) => rollUpMonth(tx, month))) n++;
  }
  return n;
}

/**
 * A purge (or erasure) rewrites the transfers of these accounts within their months: those months'
 * totals are dropped, to be rolled up again. The caller holds the sealer's lock.
 */
export async function reopenMonthsOf(tx: Transaction<DB>, accountIds: string[]): Promise<void> {
  await sql`
    delete from total_months
    where month in (
      select distinct date_trunc('month', created_at at time zone 'UTC') at time zone 'UTC'
      from transfers
      where debit_account_id = any(${accountIds}::uuid[]) or credit_account_id = any(${accountIds}::uuid[]) or subject_id = any(${accountIds}::uuid[]))`.execute(tx);
}
