import { sql, type Kysely } from 'kysely';

/**
 * Reserve and grant take the person's purge lock (shared) first. A purge holds it exclusively
 * while it re-keys the accounts and leaves its tombstone, so a posting that raced it sees the
 * purged state instead of crediting the re-keyed account or opening new accounts under the id.
 * The functions are otherwise those of migration 0003 (down() puts those back: the same text
 * without the lock). Frozen: never edit, add a new migration.
 */
const PURGE_LOCK = `      -- Waits for a purge of this person under way (which holds the lock exclusively), so what
      -- follows sees its result: re-keyed accounts, and the tombstone the caller checks.
      perform pg_advisory_xact_lock_shared(hashtextextended('imlab-purge:' || p_user::text, 0));
`;

const reserve = (LOCK: string) => `
    create or replace function ledger_post_reserve(
      p_hold uuid, p_user uuid, p_amount bigint, p_request_hash text, p_expires_at timestamptz, p_reference text,
      p_event_id uuid, p_event_name text, p_event_payload jsonb, p_event_targets text[])
    returns table (inserted boolean, available_id uuid, after_balance bigint)
    language plpgsql as $$
    declare
      v_available uuid;
      v_held uuid;
      v_after bigint;
    begin
${LOCK}      select a.id into v_available from accounts a where a.owner_id = p_user and a.type = 'available';
      select a.id into v_held from accounts a where a.owner_id = p_user and a.type = 'held';
      insert into holds (id, subject_id, held_account_id, amount, request_hash, status, expires_at, reference)
      values (p_hold, v_available, v_held, p_amount, p_request_hash, 'open', p_expires_at, p_reference)
      on conflict (id) do nothing;
      if not found then
        return query select false, null::uuid, null::bigint;
        return;
      end if;
      if v_available is null then
        return query select true, null::uuid, null::bigint;
        return;
      end if;
      -- The check and the row lock are one act: two concurrent debits never both pass on a stale read.
      update accounts a set balance = a.balance - p_amount
      where a.id = v_available and a.balance >= p_amount
      returning a.balance into v_after;
      if v_after is null then
        return query select true, v_available, null::bigint;
        return;
      end if;
      update accounts a set balance = a.balance + p_amount where a.id = v_held;
      insert into transfers (debit_account_id, credit_account_id, amount, kind, subject_id, hold_id, reference)
      values (v_available, v_held, p_amount, 'reserve', v_available, p_hold, p_reference);
      if p_event_id is not null then
        insert into outbox (id, name, payload, targets) values (p_event_id, p_event_name, p_event_payload, p_event_targets);
      end if;
      return query select true, v_available, v_after;
    end $$`;

const grant = (LOCK: string) => `
    create or replace function ledger_post_grant(
      p_key text, p_request_hash text, p_user uuid, p_amount bigint, p_debit uuid, p_kind text, p_reference text, p_result jsonb,
      p_event_id uuid, p_event_name text, p_event_payload jsonb, p_event_targets text[])
    returns table (posted_id bigint, has_account boolean)
    language plpgsql as $$
    declare
      v_available uuid;
      v_posting bigint;
    begin
${LOCK}      -- Accounts are opened before the idempotency key is taken (the caller does it when this
      -- reports no account), the order clawback and restore use too: no deadlock between twins.
      select a.id into v_available from accounts a where a.owner_id = p_user and a.type = 'available';
      if v_available is null then
        return query select null::bigint, false;
        return;
      end if;
      insert into postings (idempotency_key, request_hash, kind, subject_id, result)
      values (p_key, p_request_hash, 'grant', v_available, p_result)
      on conflict (idempotency_key) do nothing
      returning id into v_posting;
      if v_posting is null then
        return query select null::bigint, true;
        return;
      end if;
      update accounts a set balance = a.balance + p_amount where a.id = v_available;
      insert into transfers (debit_account_id, credit_account_id, amount, kind, subject_id, posting_id, reference)
      values (p_debit, v_available, p_amount, p_kind, v_available, v_posting, p_reference);
      if p_event_id is not null then
        insert into outbox (id, name, payload, targets) values (p_event_id, p_event_name, p_event_payload, p_event_targets);
      end if;
      return query select v_posting, true;
    end $$`;

export async function up(db: Kysely<unknown>): Promise<void> {
  await sql.raw(reserve(PURGE_LOCK)).execute(db);
  await sql.raw(grant(PURGE_LOCK)).execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql.raw(reserve('')).execute(db);
  await sql.raw(grant('')).execute(db);
}
