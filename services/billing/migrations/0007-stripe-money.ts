import { sql, type Kysely } from 'kysely';

/**
 * Stripe's money, for reconciliation: the balance transactions and payouts of a period, imported
 * from Stripe's list endpoints (and the payout.paid / balance.available webhooks). Only ids,
 * amounts, fees, currencies, dates, types and source ids — never a Stripe object. A re-import
 * updates the same rows (status, payout link), so importing twice changes nothing.
 *
 * Orders learn their charge id (from the imported charge, so finance can go from a charge to the
 * order) and the tax Stripe Tax added or contained (`total_details.amount_tax`) with the price's
 * tax behaviour at checkout. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table stripe_balance_transactions (
      id text primary key,
      type text not null,
      reporting_category text,
      amount bigint not null,
      fee bigint not null,
      net bigint not null,
      currency char(3) not null,
      created timestamptz not null,
      available_on timestamptz,
      status text,
      source_id text,
      payment_intent_id text,
      payout_id text,
      imported_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index stripe_balance_transactions_created on stripe_balance_transactions (created, id)`.execute(db);
  await sql`create index stripe_balance_transactions_payout on stripe_balance_transactions (payout_id) where payout_id is not null`.execute(db);
  await sql`create index stripe_balance_transactions_pi on stripe_balance_transactions (payment_intent_id) where payment_intent_id is not null`.execute(db);
  await sql`create index stripe_balance_transactions_source on stripe_balance_transactions (source_id) where source_id is not null`.execute(db);

  await sql`
    create table stripe_payouts (
      id text primary key,
      amount bigint not null,
      currency char(3) not null,
      status text not null,
      created timestamptz not null,
      arrival_date timestamptz,
      balance_transaction_id text,
      imported_at timestamptz not null default now(),
      updated_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index stripe_payouts_arrival on stripe_payouts (arrival_date, id)`.execute(db);

  await sql`alter table orders add column stripe_charge_id text, add column tax_amount bigint, add column tax_behavior text`.execute(db);
  await sql`create unique index orders_stripe_charge on orders (stripe_charge_id) where stripe_charge_id is not null`.execute(db);
  await sql`alter table stripe_events add column tax_amount bigint`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table stripe_events drop column tax_amount`.execute(db);
  await sql`drop index orders_stripe_charge`.execute(db);
  await sql`alter table orders drop column stripe_charge_id, drop column tax_amount, drop column tax_behavior`.execute(db);
  await sql`drop table stripe_payouts`.execute(db);
  await sql`drop table stripe_balance_transactions`.execute(db);
}
