import { sql, type Kysely } from 'kysely';

/**
 * The two hottest postings (reserve, grant) as PL/pgSQL functions: hold or posting record,
 * conditional balance update, transfer and the outbox event in one call.
 *
 * Why: bench/ledger.ts showed the machine CPU-bound, not commit-bound — per posting, Postgres spent
 * about twice pgbench's CPU, much of it parsing and planning a multi-CTE statement and the outbox
 * INSERT afresh on every call (node-postgres sends unnamed statements), and the client paid a
 * round trip more. PL/pgSQL keeps each statement's plan for the session, and the call is one
 * trivial statement. The statements are the same as before: the debit is still the conditional
 * `balance >= amount` UPDATE (plus the CHECK), accounts are still locked available before held,
 * and transfers still go through the immutability trigger.
 *
 * The outbox row (id, name, payload, targets) is built and validated by the caller exactly as
 * Bus.send would; a null id means nobody subscribes and nothing is written.
 *
 * Frozen: never edit once shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create function ledger_post_reserve(
      p_hold uuid, p_user uuid, p_amount bigint, p_request_hash text, p_expires_at timestamptz, p_reference text,
      p_event_id uuid, p_event_name text, p_event_payload jsonb, p_event_targets text[])
    returns table (inserted boolean, available_id uuid, after_balance bigint)
    language plpgsql as $$
    declare
      v_available uuid;
      v_held uuid;
      v_after bigint;
    begin
      select a.id into v_available from accounts a where a.owner_id = p_user and a.type = 'available';
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
    end $$`.execute(db);

  await sql`
    create function ledger_post_grant(
      p_key text, p_request_hash text, p_user uuid, p_amount bigint, p_debit uuid, p_kind text, p_reference text, p_result jsonb,
      p_event_id uuid, p_event_name text, p_event_payload jsonb, p_event_targets text[])
    returns table (posted_id bigint, has_account boolean)
    language plpgsql as $$
    declare
      v_available uuid;
      v_posting bigint;
    begin
      -- Accounts are opened before the idempotency key is taken (the caller does it when this
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
    end $$`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop function ledger_post_grant`.execute(db);
  await sql`drop function ledger_post_reserve`.execute(db);
}
