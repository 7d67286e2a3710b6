import { sql, type Kysely } from 'kysely';

/**
 * Account totals, so the trial balance "now" reads neither every account nor the day's transfers
 * (#22: with the daily totals it no longer summed every transfer, but it still counted the
 * accounts and summed their stored balances per type, 200,007 rows at 100k people, and looked up
 * the account of every transfer made since the last day rolled up).
 *
 * - account_totals: per account type, the number of accounts, the sum of their stored balances,
 *   and the debits and credits of all their transfers. Kept by statement triggers, whoever writes
 *   (the posting functions, a purge, a migration): on `accounts` for every insert, delete and
 *   balance change; on `transfers` for every insert and delete (transfers are immutable
 *   otherwise). A type's system account is the only one of its type (accounts_system_type), so the
 *   type is the key for system accounts as well.
 * - No shared row on the write path: each database session adds to rows of its own (`slot` is its
 *   backend pid), so two postings never wait on each other here and no lock order can deadlock.
 *   The background folds the rows into slot 0 (finance/account-totals.ts), skipping any row a
 *   transaction holds; a session whose row was folded meanwhile starts a new one.
 * - Each trigger reads the change from the rows its statement changed (their balances before and
 *   after; a transfer's amount and accounts), so the trial balance still compares the balances the write path stored with the
 *   transfers it wrote. Only a session that switches triggers off could part the totals from the
 *   rows; the background's verifier compares them with a scan of `accounts` and with the daily
 *   totals plus the transfers they do not cover.
 *
 * Frozen: never edit once shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  // fillfactor: room on the page for the updated row, so a slot's updates stay HOT (no index write).
  await sql`
    create table account_totals (
      type text not null,
      slot int not null,
      accounts bigint not null default 0,
      balance bigint not null default 0,
      debits bigint not null default 0,
      credits bigint not null default 0,
      primary key (type, slot)
    ) with (fillfactor = 50)`.execute(db);
  // Statement triggers over transition tables: one upsert per type a statement touches, not one
  // per row (a row updated N times in one transaction leaves N versions that every later update
  // of it in that transaction walks: per-row upserts made a bulk statement quadratic).
  // PostgreSQL allows transition tables only on single-event triggers without column lists.
  // Each branch names only the transition tables its event has (a statement naming another fails).
  await sql`
    create function account_totals_track_accounts() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        insert into account_totals as t (type, slot, accounts, balance)
        select type, pg_backend_pid(), count(*), sum(balance) from new_rows group by type
        on conflict (type, slot) do update set accounts = t.accounts + excluded.accounts, balance = t.balance + excluded.balance;
      elsif tg_op = 'DELETE' then
        insert into account_totals as t (type, slot, accounts, balance)
        select type, pg_backend_pid(), -count(*), -sum(balance) from old_rows group by type
        on conflict (type, slot) do update set accounts = t.accounts + excluded.accounts, balance = t.balance + excluded.balance;
      else
        insert into account_totals as t (type, slot, accounts, balance)
        select type, pg_backend_pid(), sum(n), sum(b)
        from (select type, 1 as n, balance as b from new_rows union all select type, -1, -balance from old_rows) x
        group by type
        having sum(n) <> 0 or sum(b) <> 0
        on conflict (type, slot) do update set accounts = t.accounts + excluded.accounts, balance = t.balance + excluded.balance;
      end if;
      return null;
    end $$`.execute(db);
  // A transfer names accounts that exist (a purge deletes the transfers before the accounts): one
  // that did not would have no type, and the not-null type fails the statement rather than count
  // it nowhere.
  await sql`
    create function account_totals_track_transfers() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        insert into account_totals as t (type, slot, debits, credits)
        select a.type, pg_backend_pid(), sum(x.d), sum(x.c)
        from (select debit_account_id as acc, amount as d, 0::int8 as c from new_rows
              union all
              select credit_account_id, 0::int8, amount from new_rows) x
        left join accounts a on a.id = x.acc
        group by a.type
        on conflict (type, slot) do update set debits = t.debits + excluded.debits, credits = t.credits + excluded.credits;
      else
        insert into account_totals as t (type, slot, debits, credits)
        select a.type, pg_backend_pid(), -sum(x.d), -sum(x.c)
        from (select debit_account_id as acc, amount as d, 0::int8 as c from old_rows
              union all
              select credit_account_id, 0::int8, amount from old_rows) x
        left join accounts a on a.id = x.acc
        group by a.type
        on conflict (type, slot) do update set debits = t.debits + excluded.debits, credits = t.credits + excluded.credits;
      end if;
      return null;
    end $$`.execute(db);
  // Creating the triggers locks out writers to `accounts` and `transfers` until this migration
  // commits, so the totals taken below and the triggers' first changes follow each other exactly.
  // Postings wait for the backfill, which reads every transfer once: 0.8 s for its query over 1M
  // transfers and 200k accounts on the 2-core dev VM (stand-in tables). The inbox keeps the
  // commands that arrive meanwhile; they apply after the commit.
  await sql`create trigger accounts_totals_insert after insert on accounts referencing new table as new_rows for each statement execute function account_totals_track_accounts()`.execute(db);
  await sql`create trigger accounts_totals_update after update on accounts referencing old table as old_rows new table as new_rows for each statement execute function account_totals_track_accounts()`.execute(db);
  await sql`create trigger accounts_totals_delete after delete on accounts referencing old table as old_rows for each statement execute function account_totals_track_accounts()`.execute(db);
  await sql`create trigger transfers_totals_insert after insert on transfers referencing new table as new_rows for each statement execute function account_totals_track_transfers()`.execute(db);
  await sql`create trigger transfers_totals_delete after delete on transfers referencing old table as old_rows for each statement execute function account_totals_track_transfers()`.execute(db);
  await sql`
    insert into account_totals (type, slot, accounts, balance, debits, credits)
    with held as (select type, count(*) as n, coalesce(sum(balance), 0) as b from accounts group by type),
         d as (select a.type, sum(t.amount) as s from transfers t join accounts a on a.id = t.debit_account_id group by a.type),
         c as (select a.type, sum(t.amount) as s from transfers t join accounts a on a.id = t.credit_account_id group by a.type)
    select held.type, 0, held.n, held.b, coalesce(d.s, 0), coalesce(c.s, 0)
    from held left join d on d.type = held.type left join c on c.type = held.type`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  for (const [trigger, table] of [
    ['transfers_totals_delete', 'transfers'],
    ['transfers_totals_insert', 'transfers'],
    ['accounts_totals_delete', 'accounts'],
    ['accounts_totals_update', 'accounts'],
    ['accounts_totals_insert', 'accounts'],
  ] as const) {
    await sql`drop trigger ${sql.id(trigger)} on ${sql.id(table)}`.execute(db);
  }
  await sql`drop function account_totals_track_transfers()`.execute(db);
  await sql`drop function account_totals_track_accounts()`.execute(db);
  await sql`drop table account_totals`.execute(db);
}
