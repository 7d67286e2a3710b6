import { sql, type Kysely } from 'kysely';

/**
 * The double-entry store. Frozen: never edit once shipped, add a new migration.
 *
 * - accounts: user accounts (available, held) carry a stored balance that the write path updates
 *   under a row lock and that a CHECK keeps >= 0. System accounts (issuance, promo, consumed,
 *   forfeited, debt) never store a balance: it is derived from transfers, so no posting ever
 *   locks or rewrites a shared row.
 * - transfers: immutable (a trigger refuses updates and deletes; only `reference` may be scrubbed
 *   to NULL for privacy). No foreign keys to accounts on purpose: an FK check takes KEY SHARE on
 *   the referenced row, which would turn the system accounts back into hot rows.
 * - `xid` orders the hash chain: sealing takes only transfers below the snapshot's xmin, a set
 *   that can no longer grow, so checkpoints never wait for or block a writer.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table accounts (
      id uuid primary key default gen_random_uuid(),
      owner_id uuid,
      type text not null check (type in ('available', 'held', 'issuance', 'promo', 'consumed', 'forfeited', 'debt')),
      balance bigint not null default 0,
      anonymized_at timestamptz,
      created_at timestamptz not null default now(),
      constraint accounts_owner_matches_type check ((owner_id is not null) = (type in ('available', 'held'))),
      constraint accounts_user_balance_nonnegative check (owner_id is null or balance >= 0),
      constraint accounts_system_balance_derived check (owner_id is not null or balance = 0)
    )`.execute(db);
  await sql`create unique index accounts_owner_type on accounts (owner_id, type) where owner_id is not null`.execute(db);
  await sql`create unique index accounts_system_type on accounts (type) where owner_id is null`.execute(db);
  await sql`
    insert into accounts (type)
    values ('issuance'), ('promo'), ('consumed'), ('forfeited'), ('debt')`.execute(db);

  await sql`
    create table postings (
      id bigint generated always as identity primary key,
      idempotency_key text not null unique,
      request_hash text not null,
      kind text not null check (kind in ('grant', 'clawback', 'restore')),
      subject_id uuid,
      result jsonb not null default '{}'::jsonb,
      created_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index postings_subject on postings (subject_id)`.execute(db);

  await sql`
    create table holds (
      id uuid primary key,
      subject_id uuid,
      held_account_id uuid,
      amount bigint check (amount > 0),
      request_hash text,
      status text not null check (status in ('open', 'captured', 'released', 'expired', 'rejected', 'void')),
      captured bigint,
      shortfall bigint,
      expires_at timestamptz,
      reference text,
      reason text,
      created_at timestamptz not null default now(),
      resolved_at timestamptz
    )`.execute(db);
  await sql`create index holds_open_by_expiry on holds (expires_at) where status = 'open'`.execute(db);
  await sql`create index holds_subject on holds (subject_id)`.execute(db);

  await sql`
    create table transfers (
      id bigint generated always as identity primary key,
      xid xid8 not null default pg_current_xact_id(),
      debit_account_id uuid not null,
      credit_account_id uuid not null,
      amount bigint not null check (amount > 0),
      kind text not null,
      subject_id uuid,
      posting_id bigint,
      hold_id uuid,
      reference text,
      created_at timestamptz not null default now(),
      constraint transfers_two_sides check (debit_account_id <> credit_account_id)
    )`.execute(db);
  await sql`create index transfers_debit on transfers (debit_account_id, id)`.execute(db);
  await sql`create index transfers_credit on transfers (credit_account_id, id)`.execute(db);
  await sql`create index transfers_subject on transfers (subject_id, id)`.execute(db);
  await sql`create index transfers_chain_order on transfers (xid, id)`.execute(db);
  await sql`
    create function ledger_transfers_immutable() returns trigger language plpgsql as $$
    begin
      if tg_op = 'DELETE' then
        raise exception 'transfers are immutable' using errcode = 'P0001';
      end if;
      if (new.id, new.xid, new.debit_account_id, new.credit_account_id, new.amount, new.kind, new.subject_id,
          new.posting_id, new.hold_id, new.created_at)
         is distinct from
         (old.id, old.xid, old.debit_account_id, old.credit_account_id, old.amount, old.kind, old.subject_id,
          old.posting_id, old.hold_id, old.created_at)
         or (new.reference is not null and new.reference is distinct from old.reference) then
        raise exception 'transfers are immutable (only reference may be scrubbed)' using errcode = 'P0001';
      end if;
      return new;
    end $$`.execute(db);
  await sql`
    create trigger transfers_immutable before update or delete on transfers
    for each row execute function ledger_transfers_immutable()`.execute(db);

  await sql`
    create table checkpoints (
      id bigint generated always as identity primary key,
      last_xid xid8 not null,
      last_transfer_id bigint not null,
      transfer_count bigint not null check (transfer_count > 0),
      prev_hash text not null,
      hash text not null,
      seal text not null,
      sealed_at timestamptz not null default now()
    )`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table checkpoints`.execute(db);
  await sql`drop table transfers`.execute(db);
  await sql`drop function ledger_transfers_immutable`.execute(db);
  await sql`drop table holds`.execute(db);
  await sql`drop table postings`.execute(db);
  await sql`drop table accounts`.execute(db);
}
