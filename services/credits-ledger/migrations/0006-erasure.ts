import { sql, type Kysely } from 'kysely';

/**
 * `user.purge` removes the person's transfers, holds, postings and accounts instead of re-keying
 * them (docs/architecture.md, "The ledger's erasure").
 *
 * - `erased`: a new system account. At purge each of the person's transfers is rewritten with their
 *   own accounts replaced by `erased` and summed per (UTC calendar month, kind, debit, credit) into
 *   aggregate transfers dated at the start of that month; transfers between their own two accounts
 *   net out and vanish. Every other account keeps its debits, credits and balance in every month,
 *   and whatever the person still had stays on `erased` (sum over all accounts is still zero).
 * - `erased_transfer_hashes`: for each deleted transfer that a checkpoint had sealed, only its chain
 *   position and the chain hash before and after it, so `verify` can walk over the gap. No content.
 * - The immutability trigger lets exactly this path delete: the row must touch an account listed in
 *   the transaction-local setting `imlab.ledger_erase_accounts` (the purge sets it to the person's
 *   two accounts), and a sealed row must have left its chain hashes first.
 *
 * Frozen: never edit once shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table accounts drop constraint accounts_type_check`.execute(db);
  await sql`
    alter table accounts add constraint accounts_type_check
    check (type in ('available', 'held', 'issuance', 'promo', 'consumed', 'forfeited', 'debt', 'erased'))`.execute(db);
  await sql`insert into accounts (type) values ('erased') on conflict do nothing`.execute(db);

  await sql`
    create table erased_transfer_hashes (
      transfer_id bigint primary key,
      xid xid8 not null,
      prev_hash text not null,
      hash text not null,
      erased_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index erased_transfer_hashes_chain_order on erased_transfer_hashes (xid, transfer_id)`.execute(db);
  // Accounts re-keyed by purges before this migration are erased by the background loop.
  await sql`create index accounts_anonymized on accounts (owner_id) where anonymized_at is not null`.execute(db);
  // The purge looks up the checkpoint that seals a given transfer.
  await sql`create index checkpoints_chain_order on checkpoints (last_xid, last_transfer_id)`.execute(db);

  await sql`
    create or replace function ledger_transfers_immutable() returns trigger language plpgsql as $$
    declare
      v_erasing text := coalesce(current_setting('imlab.ledger_erase_accounts', true), '');
      v_last record;
    begin
      if tg_op = 'DELETE' then
        if v_erasing = '' or not (
             position(old.debit_account_id::text in v_erasing) > 0
             or position(old.credit_account_id::text in v_erasing) > 0
             or (old.subject_id is not null and position(old.subject_id::text in v_erasing) > 0)) then
          raise exception 'transfers are immutable' using errcode = 'P0001';
        end if;
        select c.last_xid, c.last_transfer_id into v_last from checkpoints c order by c.id desc limit 1;
        if v_last is not null and (old.xid, old.id) <= (v_last.last_xid, v_last.last_transfer_id)
           and not exists (select 1 from erased_transfer_hashes e where e.transfer_id = old.id) then
          raise exception 'a sealed transfer is erased only after its chain hashes are kept' using errcode = 'P0001';
        end if;
        return old;
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
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`
    create or replace function ledger_transfers_immutable() returns trigger language plpgsql as $$
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
  await sql`drop index checkpoints_chain_order`.execute(db);
  await sql`drop index accounts_anonymized`.execute(db);
  await sql`drop table erased_transfer_hashes`.execute(db);
  await sql`delete from accounts where type = 'erased' and owner_id is null`.execute(db);
  await sql`alter table accounts drop constraint accounts_type_check`.execute(db);
  await sql`
    alter table accounts add constraint accounts_type_check
    check (type in ('available', 'held', 'issuance', 'promo', 'consumed', 'forfeited', 'debt'))`.execute(db);
}
