import { sql, type Kysely } from 'kysely';

/**
 * Monthly totals, so the trial balance and a system account's balance stop summing every transfer
 * ever made (#22: 20 ms at 10k transfers, 3.3 s at 1M).
 *
 * - transfers_created_at: the reads sum only what no monthly total covers (the current month, a
 *   month not yet rolled up), found by time.
 * - total_months: one row per UTC calendar month whose totals are in `monthly_totals`. A month is
 *   rolled up once it ended more than an hour ago (no posting still open can date a transfer in it),
 *   by the background, from the transfers themselves — never by the write path, so the trial
 *   balance still checks the stored balances against the transfers, and no posting touches a
 *   shared row.
 * - monthly_totals: debits and credits per system account and per user account type (available,
 *   held: all people together, as the trial balance shows them) in that month.
 * - A purge rewrites a person's transfers within their months; it deletes those months' rows here
 *   (cascade) under the sealer's lock, which the roll-up also holds, and they are rolled up again.
 *
 * Frozen: never edit once shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create index transfers_created_at on transfers (created_at)`.execute(db);
  await sql`
    create table total_months (
      month timestamptz primary key,
      rolled_at timestamptz not null default now(),
      constraint total_months_month_start check (month = date_trunc('month', month at time zone 'UTC') at time zone 'UTC')
    )`.execute(db);
  await sql`
    create table monthly_totals (
      month timestamptz not null references total_months (month) on delete cascade,
      type text not null,
      account_id uuid,
      debits bigint not null,
      credits bigint not null,
      constraint monthly_totals_key unique nulls not distinct (month, type, account_id)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table monthly_totals`.execute(db);
  await sql`drop table total_months`.execute(db);
  await sql`drop index transfers_created_at`.execute(db);
}
