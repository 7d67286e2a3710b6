import { sql, type Kysely } from 'kysely';

/**
 * Closed months on billing's side: the Stripe tie-out frozen at the close. Stripe money imported
 * after a month was closed but dated inside it is counted from the start of the next open period
 * (`effective_at`), so a closed month never changes. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table billing_period_closes (
      month text not null,
      tz text not null,
      period_from timestamptz not null,
      period_to timestamptz not null,
      closed_at timestamptz not null default now(),
      figures jsonb not null,
      primary key (month, tz)
    )`.execute(db);
  await sql`alter table stripe_balance_transactions add column effective_at timestamptz`.execute(db);
  await sql`update stripe_balance_transactions set effective_at = created`.execute(db);
  await sql`alter table stripe_balance_transactions alter column effective_at set not null`.execute(db);
  await sql`create index stripe_balance_transactions_effective on stripe_balance_transactions (effective_at, id)`.execute(db);
  await sql`alter table stripe_payouts add column effective_at timestamptz`.execute(db);
  await sql`update stripe_payouts set effective_at = created`.execute(db);
  await sql`alter table stripe_payouts alter column effective_at set not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table stripe_payouts drop column effective_at`.execute(db);
  await sql`drop index stripe_balance_transactions_effective`.execute(db);
  await sql`alter table stripe_balance_transactions drop column effective_at`.execute(db);
  await sql`drop table billing_period_closes`.execute(db);
}
