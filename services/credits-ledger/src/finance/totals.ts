import { sql, type Db, type Kysely, type RawBuilder, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import { lockSealing } from '../audit/audit.repository.js';

// Daily totals (migration 0009): the reads that summed every transfer ever made — the trial
// balance, a system account's balance — add the totals of the days rolled up to the transfers of
// the time no total covers (today, a day a purge reopened), which they find by
// `transfers_created_at`. The totals are made by the background from the transfers, never by the
// write path.

/** How long after a day ends it is rolled up: no posting still open can date a transfer in it. */
export const ROLL_UP_AFTER_MS = 60 * 60_000;
const DAY_MS = 86_400_000;

const dayStart = (d: Date) => new Date(Math.floor(d.getTime() / DAY_MS) * DAY_MS);
const dayEnd = (day: Date) => new Date(day.getTime() + DAY_MS);

/** A condition on `created_at`: the transfers in a read's time that no rolled-up day covers. */
export type Uncovered = RawBuilder<unknown>;

/**
 * The read's time not covered by rolled-up days, as ranges of `created_at`. The read's time is
 * everything up to `bound`: at or before it when `inclusive` (a trial balance "as of"), strictly
 * before it otherwise (an opening balance); all time when null. A day counts as covered when it
 * ended by `bound` (the same days `totalsUpTo` sums).
 */
export async function uncovered(db: Db<DB>, bound: Date | null, inclusive: boolean): Promise<Uncovered> {
  let q = db.selectFrom('total_days').select('day').orderBy('day');
  if (bound) q = q.where(sql<boolean>`day + interval '1 day' <= ${bound}`);
  const days = (await q.execute()).map((r) => r.day);
  const ranges: RawBuilder<unknown>[] = [];
  let from: Date | null = null;
  for (const day of days) {
    if (from === null) ranges.push(sql`created_at < ${day}`);
    else if (from.getTime() < day.getTime()) ranges.push(sql`(created_at >= ${from} and created_at < ${day})`);
    from = dayEnd(day);
  }
  const upTo = bound === null ? null : inclusive ? sql`created_at <= ${bound}` : sql`created_at < ${bound}`;
  if (from === null) ranges.push(upTo ?? sql`true`);
  else ranges.push(upTo ? sql`(created_at >= ${from} and ${upTo})` : sql`created_at >= ${from}`);
  return sql`(${sql.join(ranges, sql` or `)})`;
}

export interface Total {
  type: string;
  account_id: string | null;
  debits: number;
  credits: number;
}

/** The summed totals of the days rolled up that ended by `bound` (all when null), per system account and user account type. */
export async function totalsUpTo(db: Db<DB>, bound: Date | null, accountId?: string): Promise<Total[]> {
  let q = db
    .selectFrom('daily_totals')
    .select(['type', 'account_id', sql<number>`sum(debits)::int8`.as('debits'), sql<number>`sum(credits)::int8`.as('credits')])
    .groupBy(['type', 'account_id']);
  if (bound) q = q.where(sql<boolean>`day + interval '1 day' <= ${bound}`);
  if (accountId) q = q.where('account_id', '=', accountId);
  return q.execute();
}

/**
 * Runs `fn` on one snapshot (REPEATABLE READ): the days rolled up, their totals and the transfers
 * outside them are read as of one instant, so a purge or a roll-up committing in between cannot
 * count something twice or not at all. Inside a caller's transaction, that transaction's (as it is).
 */
export async function onOneSnapshot<T>(db: Db<DB>, fn: (db: Db<DB>) => Promise<T>, opts: { serial?: boolean } = {}): Promise<T> {
  if (db.isTransaction) return fn(db);
  return (db as Kysely<DB>)
    .transaction()
    .setIsolationLevel('repeatable read')
    .setAccessMode('read only')
    .execute(async (tx) => {
      // Parallel workers cost more to start than the scans they would share (measured: bench/ledger-scale.ts).
      if (opts.serial) await sql`set local max_parallel_workers_per_gather = 0`.execute(tx);
      return fn(tx);
    });
}

/** The days from the first transfer's to the last one ended `ROLL_UP_AFTER_MS` before `now` that have no totals. */
export async function daysToRollUp(db: Db<DB>, now: Date): Promise<Date[]> {
  const first = (await sql<{ at: Date | null }>`select min(created_at) as at from transfers`.execute(db)).rows[0]?.at;
  if (!first) return [];
  const done = new Set((await db.selectFrom('total_days').select('day').where('day', '>=', dayStart(first)).execute()).map((r) => r.day.getTime()));
  const out: Date[] = [];
  for (let day = dayStart(first); dayEnd(day).getTime() + ROLL_UP_AFTER_MS <= now.getTime(); day = dayEnd(day)) {
    if (!done.has(day.getTime())) out.push(day);
  }
  return out;
}

/**
 * Rolls up one day from its transfers, under the sealer's lock (a purge, which reopens the days it
 * rewrites, holds it too: it has committed before these statements' snapshots, or starts after
 * this commits). Returns false when the day was rolled up meanwhile, or when a transaction that
 * began before the day ended is still open on this database: a transfer is dated by its
 * transaction's start, so that one could still add to the day (the hour's wait makes this rare).
 * Only client sessions count: autovacuum and other background workers write no transfer, and a
 * long vacuum must not hold the roll-up back.
 */
export async function rollUpDay(tx: Transaction<DB>, day: Date): Promise<boolean> {
  await lockSealing(tx);
  const end = dayEnd(day);
  const { rows: open } = await sql<{ n: number }>`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and backend_type = 'client backend' and pid <> pg_backend_pid() and xact_start < ${end}`.execute(tx);
  if ((open[0]?.n ?? 0) > 0) return false;
  const inserted = await tx.insertInto('total_days').values({ day }).onConflict((oc) => oc.column('day').doNothing()).executeTakeFirst();
  if (Number(inserted.numInsertedOrUpdatedRows ?? 0) === 0) return false;
  // One system account per type (accounts_system_type): the type alone is the key.
  await sql`
    insert into daily_totals (day, type, account_id, debits, credits)
    with moved as (select debit_account_id as acc, amount as d, 0::int8 as c from transfers where created_at >= ${day} and created_at < ${end}
                   union all
                   select credit_account_id, 0::int8, amount from transfers where created_at >= ${day} and created_at < ${end})
    select ${day}::timestamptz, a.type, case when a.type in ('available', 'held') then null else min(a.id::text)::uuid end,
           sum(moved.d)::int8, sum(moved.c)::int8
    from moved
    join accounts a on a.id = moved.acc
    group by a.type`.execute(tx);
  return true;
}

/**
 * Rolls up at most `limit` of the days due, oldest first, one transaction each; stops at a day that
 * cannot be rolled up yet (a transaction open since before it ended). Returns how many.
 */
export async function rollUpClosedDays(db: Kysely<DB>, now = new Date(), limit = 31): Promise<number> {
  let n = 0;
  for (const day of (await daysToRollUp(db, now)).slice(0, limit)) {
    if (!(await db.transaction().execute((tx) => rollUpDay(tx, day)))) break;
    n++;
  }
  return n;
}

/**
 * A purge (or erasure) rewrites the transfers of these accounts into aggregates dated at the first
 * instant of their months: the totals of the days they were on and of those months' first days are
 * dropped, to be rolled up again. The caller holds the sealer's lock.
 */
export async function reopenDaysOf(tx: Transaction<DB>, accountIds: string[]): Promise<void> {
  await sql`
    delete from total_days
    where day in (
      select date_trunc(unit, created_at at time zone 'UTC') at time zone 'UTC'
      from transfers, (values ('day'), ('month')) as units (unit)
      where debit_account_id = any(${accountIds}::uuid[]) or credit_account_id = any(${accountIds}::uuid[]) or subject_id = any(${accountIds}::uuid[]))`.execute(tx);
}
