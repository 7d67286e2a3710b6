import { sql, type Kysely } from 'kysely';

/**
 * Daily totals, so the trial balance and a system account's balance stop summing every transfer
 * ever made (#22: 20 ms at 10k transfers, 3.3 s at 1M).
 *
 * - transfers_created_at: the reads sum only what no daily total covers (today, a day not yet
 *   rolled up), found by time.
 * - total_days: one row per UTC day whose totals are in `daily_totals`. A day is rolled up once it
 *   ended more than an hour ago (no posting still open can date a transfer in it), by the
 *   background, from the transfers themselves — never by the write path, so the trial balance
 *   still checks the stored balances against the transfers, and no posting touches a shared row.
 * - daily_totals: debits and credits per system account and per user account type (available,
 *   held: all people together, as the trial balance shows them) on that day.
 * - A purge rewrites a person's transfers (into aggregates dated at the first instant of their
 *   months); it deletes the rows of the days it touches (cascade) under the sealer's lock, which
 *   the roll-up also holds, and they are rolled up again.
 *
 * Frozen: never edit once shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index transfers_created_at on transfers (created_at)`.execute(db);
  await sql`
    create table total_days (
      day timestamptz primary key,
      rolled_at timestamptz not null default now(),
      constraint total_days_day_start check (day = date_trunc('day', day at time zone 'UTC') at time zone 'UTC')
    )`.execute(db);
  await sql`
    create table daily_totals (
      day timestamptz not null references total_days (day) on delete cascade,
      type text not null,
      account_id uuid,
      debits bigint not null,
      credits bigint not null,
      constraint daily_totals_key unique nulls not distinct (day, type, account_id)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table daily_totals`.execute(db);
  await sql`drop table total_days`.execute(db);
  await sql`drop index transfers_created_at`.execute(db);
}
