import { sql, type Kysely } from 'kysely';

/**
 * Account totals, so the trial balance "now" reads neither every account nor the day's transfers
 * (#22: with the daily totals it no longer summed every transfer, but it still counted the
 * accounts and summed their stored balances per type, 200,007 rows at 100k people, and looked up
 * the account of every transfer made since the last day rolled up).
 *
 * - account_totals: per account type, the number of accounts, the sum of their stored balances,
 *   and the debits and credits of all their transfers. Kept by triggers, whoever writes the row
 *   (the posting functions, a purge, a migration): on `accounts` for every insert, delete and
 *   balance change; on `transfers` for every insert and delete (transfers are immutable
 *   otherwise). A type's system account is the only one of its type (accounts_system_type), so the
 *   type is the key for system accounts as well.
 * - No shared row on the write path: each database session adds to rows of its own (`slot` is its
 *   backend pid), so two postings never wait on each other here and no lock order can deadlock.
 *   The background folds the rows into slot 0 (finance/account-totals.ts), skipping any row a
 *   transaction holds; a session whose row was folded meanwhile starts a new one.
 * - Each trigger reads the change from its own row (new.balance − old.balance; a transfer's amount
 *   and accounts), so the trial balance still compares the balances the write path stored with the
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
  await sql`
    create function account_totals_add(t text, n bigint, b bigint, dr bigint, cr bigint) returns void language plpgsql as $$
    begin
      update account_totals set accounts = accounts + n, balance = balance + b, debits = debits + dr, credits = credits + cr
      where type = t and slot = pg_backend_pid();
      if not found then
        insert into account_totals (type, slot, accounts, balance, debits, credits) values (t, pg_backend_pid(), n, b, dr, cr)
        on conflict (type, slot) do update
          set accounts = account_totals.accounts + excluded.accounts, balance = account_totals.balance + excluded.balance,
              debits = account_totals.debits + excluded.debits, credits = account_totals.credits + excluded.credits;
      end if;
    end $$`.execute(db);
  await sql`
    create function account_totals_track_account() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        perform account_totals_add(new.type, 1, new.balance, 0, 0);
      elsif tg_op = 'DELETE' then
        perform account_totals_add(old.type, -1, -old.balance, 0, 0);
      elsif new.type is distinct from old.type then
        perform account_totals_add(old.type, -1, -old.balance, 0, 0);
        perform account_totals_add(new.type, 1, new.balance, 0, 0);
      elsif new.balance <> old.balance then
        perform account_totals_add(new.type, 0, new.balance - old.balance, 0, 0);
      end if;
      return null;
    end $$`.execute(db);
  // A transfer names accounts that exist (a purge deletes the transfers before the accounts):
  // "into strict" fails the statement rather than count a transfer under no type.
  await sql`
    create function account_totals_track_transfer() returns trigger language plpgsql as $$
    declare
      r record;
      s int8 := case when tg_op = 'INSERT' then 1 else -1 end;
      d text;
      c text;
    begin
      if tg_op = 'INSERT' then r := new; else r := old; end if;
      select a.type into strict d from accounts a where a.id = r.debit_account_id;
      select a.type into strict c from accounts a where a.id = r.credit_account_id;
      perform account_totals_add(d, 0, 0, s * r.amount, 0);
      perform account_totals_add(c, 0, 0, 0, s * r.amount);
      return null;
    end $$`.execute(db);
  // Creating the triggers locks out writers to `accounts` and `transfers` until this migration
  // commits, so the totals taken below and the triggers' first changes follow each other exactly.
  await sql`create trigger accounts_totals after insert or update of type, balance or delete on accounts for each row execute function account_totals_track_account()`.execute(db);
  await sql`create trigger transfers_totals after insert or delete on transfers for each row execute function account_totals_track_transfer()`.execute(db);
  await sql`
    insert into account_totals (type, slot, accounts, balance, debits, credits)
    with held as (select type, count(*) as n, coalesce(sum(balance), 0) as b from accounts group by type),
         d as (select a.type, sum(t.amount) as s from transfers t join accounts a on a.id = t.debit_account_id group by a.type),
         c as (select a.type, sum(t.amount) as s from transfers t join accounts a on a.id = t.credit_account_id group by a.type)
    select held.type, 0, held.n, held.b, coalesce(d.s, 0), coalesce(c.s, 0)
    from held left join d on d.type = held.type left join c on c.type = held.type`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger transfers_totals on transfers`.execute(db);
  await sql`drop trigger accounts_totals on accounts`.execute(db);
  await sql`drop function account_totals_track_transfer()`.execute(db);
  await sql`drop function account_totals_track_account()`.execute(db);
  await sql`drop function account_totals_add(text, bigint, bigint, bigint, bigint)`.execute(db);
  await sql`drop table account_totals`.execute(db);
}
