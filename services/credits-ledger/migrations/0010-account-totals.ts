import { sql, type Kysely } from 'kysely';

/**
 * Account totals, so the trial balance stops scanning every account (#22: with the daily totals it
 * no longer read the transfers, but it still counted the accounts and summed their stored balances
 * per type: 200,007 rows at 100k people).
 *
 * - account_totals: per account type, the number of accounts and the sum of their stored balances,
 *   kept by a trigger on `accounts` for every insert, delete and balance change, whoever makes it
 *   (the posting functions, a purge, a migration). The trial balance sums a few rows per type.
 * - No shared row on the write path: each database session adds to rows of its own (`slot` is its
 *   backend pid), so two postings never wait on each other here and no lock order can deadlock.
 *   The background folds the rows into slot 0 (finance/account-totals.ts), skipping any row a
 *   transaction holds; a session whose row was folded meanwhile starts a new one.
 * - The trigger reads the change from the row itself (new.balance − old.balance), so the stored
 *   balances and their totals cannot part: the trial balance still compares what the write path
 *   stored with what the transfers say. Only a session that switches triggers off could part
 *   them; the background's verifier compares the totals with a full scan of `accounts`.
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
      primary key (type, slot)
    ) with (fillfactor = 50)`.execute(db);
  await sql`
    create function account_totals_add(t text, n bigint, b bigint) returns void language plpgsql as $$
    begin
      update account_totals set accounts = accounts + n, balance = balance + b where type = t and slot = pg_backend_pid();
      if not found then
        insert into account_totals (type, slot, accounts, balance) values (t, pg_backend_pid(), n, b)
        on conflict (type, slot) do update set accounts = account_totals.accounts + excluded.accounts, balance = account_totals.balance + excluded.balance;
      end if;
    end $$`.execute(db);
  await sql`
    create function account_totals_track() returns trigger language plpgsql as $$
    begin
      if tg_op = 'INSERT' then
        perform account_totals_add(new.type, 1, new.balance);
      elsif tg_op = 'DELETE' then
        perform account_totals_add(old.type, -1, -old.balance);
      elsif new.type is distinct from old.type then
        perform account_totals_add(old.type, -1, -old.balance);
        perform account_totals_add(new.type, 1, new.balance);
      elsif new.balance <> old.balance then
        perform account_totals_add(new.type, 0, new.balance - old.balance);
      end if;
      return null;
    end $$`.execute(db);
  // Creating the trigger locks out writers to `accounts` until this migration commits, so the
  // totals taken below and the trigger's first change follow each other exactly.
  await sql`create trigger accounts_totals after insert or update of type, balance or delete on accounts for each row execute function account_totals_track()`.execute(db);
  await sql`insert into account_totals (type, slot, accounts, balance) select type, 0, count(*), coalesce(sum(balance), 0) from accounts group by type`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop trigger accounts_totals on accounts`.execute(db);
  await sql`drop function account_totals_track()`.execute(db);
  await sql`drop function account_totals_add(text, bigint, bigint)`.execute(db);
  await sql`drop table account_totals`.execute(db);
}
