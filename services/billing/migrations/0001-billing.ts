import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here; add a new migration instead of editing this one.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Orders keep only what the books need: ids, amounts, currency, status and Stripe ids. user_id is
  // nulled when the person is purged; the order itself stays for accounting.
  await sql`
    create table orders (
      id uuid primary key,
      user_id uuid,
      pack_id text not null,
      credits bigint not null check (credits > 0),
      amount bigint not null check (amount > 0),
      currency char(3) not null,
      status text not null check (status in ('pending', 'paid', 'refunded', 'disputed', 'failed', 'expired')),
      stripe_session_id text unique,
      stripe_payment_intent_id text unique,
      refunded_amount bigint not null default 0 check (refunded_amount >= 0),
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      paid_at timestamptz,
      closed_at timestamptz
    )`.execute(db);
  await sql`create index orders_user on orders (user_id, id desc) where user_id is not null`.execute(db);
  await sql`create index orders_pending on orders (updated_at) where status = 'pending'`.execute(db);
  await sql`create index orders_paid_at on orders (paid_at) where paid_at is not null`.execute(db);

  await sql`
    create table order_disputes (
      id text primary key,
      order_id uuid not null references orders (id),
      amount bigint not null check (amount >= 0),
      status text not null,
      funds_reinstated boolean not null default false,
      updated_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index order_disputes_order on order_disputes (order_id)`.execute(db);

  // Every ledger command billing has sent, keyed like the ledger keys it: what billing expects.
  await sql`
    create table order_postings (
      idempotency_key text primary key,
      order_id uuid not null references orders (id),
      kind text not null check (kind in ('grant', 'clawback', 'restore')),
      cause text not null check (cause in ('purchase', 'refund', 'dispute')),
      credits bigint not null check (credits > 0),
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index order_postings_order on order_postings (order_id)`.execute(db);

  // Verified Stripe events: the id, type and the few ids/amounts processing needs — never the payload.
  await sql`
    create table stripe_events (
      id text primary key,
      type text not null,
      created timestamptz not null,
      received_at timestamptz not null default now(),
      status text not null default 'received' check (status in ('received', 'processed', 'parked', 'ignored')),
      processed_at timestamptz,
      order_id uuid,
      object_id text,
      payment_intent_id text,
      object_status text,
      amount bigint,
      currency char(3)
    )`.execute(db);
  await sql`create index stripe_events_parked on stripe_events (payment_intent_id) where status = 'parked'`.execute(db);

  // What the ledger reports it actually posted (ledger.posted), for reconciliation.
  await sql`
    create table ledger_postings (
      idempotency_key text primary key,
      order_id uuid,
      kind text not null check (kind in ('grant', 'clawback', 'restore')),
      amount bigint not null,
      debt bigint not null,
      received_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index ledger_postings_order on ledger_postings (order_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table ledger_postings`.execute(db);
  await sql`drop table stripe_events`.execute(db);
  await sql`drop table order_postings`.execute(db);
  await sql`drop table order_disputes`.execute(db);
  await sql`drop table orders`.execute(db);
}
