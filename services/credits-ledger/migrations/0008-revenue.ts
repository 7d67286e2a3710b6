import { sql, type Kysely } from 'kysely';

/**
 * Revenue recognition and the credit liability in currency (finance's month-end close).
 *
 * - postings.value_amount / value_currency: what a purchase grant's credits were sold for, net of
 *   tax (billing sends it with `ledger.grant`); the price its credits are recognised at.
 * - revenue_lots: each grant of credits to a person is a lot (a purchase at its price, a promo or
 *   goodwill grant free), with what is left of it in credits and in money. `pool` is the person's
 *   `available` account id (no user id), set to null by the purge: their unspent credits stay a
 *   liability, nobody's.
 * - revenue_movements: every change of a lot, dated by the transfer that caused it — sold, granted
 *   free, spent (revenue), refunded, clawed back (dispute), restored — with its money amount. The
 *   liability at any instant is the sum of the movements before it; a report never recomputes
 *   history, so a purge (which collapses a person's transfers) changes no past figure.
 * - revenue_cursor: how far the recogniser has read the transfers, in hash-chain order (xid, id).
 * - period_closes: a closed month in a time zone, its figures and the tamper-evidence checkpoint
 *   of that moment. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table postings add column value_amount bigint check (value_amount >= 0), add column value_currency char(3)`.execute(db);

  await sql`
    create table revenue_lots (
      id bigint generated always as identity primary key,
      pool uuid,
      source text not null check (source in ('purchase', 'free', 'restore', 'unpriced')),
      reference text,
      currency char(3),
      credits bigint not null check (credits > 0),
      value bigint not null check (value >= 0),
      remaining bigint not null check (remaining >= 0),
      remaining_value bigint not null check (remaining_value >= 0),
      created_at timestamptz not null
    )`.execute(db);
  await sql`create index revenue_lots_pool_open on revenue_lots (pool, id) where remaining > 0`.execute(db);
  await sql`create index revenue_lots_reference on revenue_lots (reference, id) where reference is not null`.execute(db);

  await sql`
    create table revenue_movements (
      id bigint generated always as identity primary key,
      transfer_id bigint not null,
      lot_id bigint,
      kind text not null check (kind in ('sold', 'granted_free', 'spent', 'refunded', 'clawed_back', 'restored')),
      credits bigint not null check (credits > 0),
      amount bigint not null,
      currency char(3),
      reference text,
      created_at timestamptz not null
    )`.execute(db);
  await sql`create index revenue_movements_created on revenue_movements (created_at, id)`.execute(db);
  await sql`create index revenue_movements_transfer on revenue_movements (transfer_id)`.execute(db);

  await sql`create table revenue_cursor (id int primary key check (id = 1), last_xid xid8 not null, last_transfer_id bigint not null)`.execute(db);
  await sql`insert into revenue_cursor (id, last_xid, last_transfer_id) values (1, '0'::xid8, 0)`.execute(db);

  await sql`
    create table period_closes (
      month text not null,
      tz text not null,
      period_from timestamptz not null,
      period_to timestamptz not null,
      closed_at timestamptz not null default now(),
      checkpoint_id bigint,
      checkpoint_hash text,
      last_transfer_id bigint,
      figures jsonb not null,
      primary key (month, tz)
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table period_closes`.execute(db);
  await sql`drop table revenue_cursor`.execute(db);
  await sql`drop table revenue_movements`.execute(db);
  await sql`drop table revenue_lots`.execute(db);
  await sql`alter table postings drop column value_amount, drop column value_currency`.execute(db);
}
