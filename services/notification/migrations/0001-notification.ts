import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here, never edit once shipped; add a new migration.
export async function up(db: Kysely<unknown>): Promise<void> {
  // Who a userId-only message goes to. `source_at` is the occurredAt of the event that last
  // wrote the row, so a late user.registered never overwrites a newer user.updated.
  await sql`
    create table contacts (
      user_id uuid primary key,
      email text not null,
      locale text not null check (locale in ('en', 'zh')),
      display_name text not null,
      source_at timestamptz not null,
      updated_at timestamptz not null default now()
    )`.execute(db);

  // After user.purge: stops a late user.updated from bringing the contact back.
  await sql`
    create table purged_users (
      user_id uuid primary key,
      purged_at timestamptz not null default now()
    )`.execute(db);

  // The delivery log, one row per idempotency key. Never the body, the link or the address:
  // only a hash of the address (to scrub on purge and to match suppressions).
  await sql`
    create table deliveries (
      id uuid primary key,
      idempotency_key text not null unique,
      template text not null,
      user_id uuid,
      recipient_hash text,
      locale text not null,
      status text not null check (status in ('sending', 'pending', 'sent', 'failed', 'suppressed', 'bounced', 'complained')),
      provider text not null,
      provider_id text,
      attempts integer not null default 0,
      failure_reason text,
      lease_until timestamptz,
      created_at timestamptz not null default now(),
      updated_at timestamptz not null default now(),
      sent_at timestamptz
    )`.execute(db);
  await sql`create index deliveries_user on deliveries (user_id) where user_id is not null`.execute(db);
  await sql`create index deliveries_recipient on deliveries (recipient_hash) where recipient_hash is not null`.execute(db);
  await sql`create index deliveries_provider_id on deliveries (provider_id) where provider_id is not null`.execute(db);

  // Addresses that bounced or complained, by SHA-256 of the normalised address.
  await sql`
    create table suppressions (
      address_hash text primary key,
      reason text not null check (reason in ('bounced', 'complained')),
      provider_event_id text,
      created_at timestamptz not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table suppressions`.execute(db);
  await sql`drop table deliveries`.execute(db);
  await sql`drop table purged_users`.execute(db);
  await sql`drop table contacts`.execute(db);
}
