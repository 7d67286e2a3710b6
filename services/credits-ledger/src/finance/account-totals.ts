import { sql, type Db, type Kysely } from '@imlab/db';
import type { DB } from '../db.js';

// Account totals (migration 0010): per account type, how many accounts there are and what their
// stored balances sum to, kept by a trigger on `accounts` in rows per database session. The trial
// balance reads them instead of scanning every account.

/** An arbitrary key for pg_try_advisory_xact_lock: one fold at a time across the ledger's replicas. */
const FOLD_LOCK = 0x1ed9e7_70;

/**
 * Folds every session's rows into slot 0, one transaction; returns how many rows were folded.
 * A row a transaction is writing right now is skipped (SKIP LOCKED), so the fold never waits on the
 * write path and the write path waits on it only for this short transaction; that session's trigger
 * then finds its row gone and starts a new one.
 */
export async function foldAccountTotals(db: Kysely<DB>): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const { rows: lock } = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(${FOLD_LOCK}) as ok`.execute(tx);
    if (!lock[0]?.ok) return 0;
    const { rows } = await sql<{ n: number }>`
      with gone as (
        delete from account_totals
        where (type, slot) in (select type, slot from account_totals where slot <> 0 for update skip locked)
        returning type, accounts, balance),
      folded as (
        insert into account_totals (type, slot, accounts, balance)
        select type, 0, sum(accounts), sum(balance) from gone group by type
        on conflict (type, slot) do update set accounts = account_totals.accounts + excluded.accounts, balance = account_totals.balance + excluded.balance)
      select count(*)::int as n from gone`.execute(tx);
    return rows[0]?.n ?? 0;
  });
}

export interface AccountTotalsMismatch {
  type: string;
  /** From account_totals. */
  accounts: number;
  balance: number;
  /** From a scan of `accounts`. */
  scannedAccounts: number;
  scannedBalance: number;
}

/**
 * Compares the totals with a full scan of `accounts` on one snapshot: they differ only if a session
 * wrote `accounts` with triggers switched off (or the totals were edited by hand). O(accounts):
 * the background's verifier runs it, never a read a person waits on.
 */
export async function verifyAccountTotals(db: Db<DB>): Promise<AccountTotalsMismatch[]> {
  const check = async (db: Db<DB>) => {
    const { rows } = await sql<AccountTotalsMismatch>`
      with kept as (select type, sum(accounts)::int8 as accounts, sum(balance)::int8 as balance from account_totals group by type),
           scanned as (select type, count(*)::int8 as accounts, coalesce(sum(balance), 0)::int8 as balance from accounts group by type)
      select coalesce(k.type, s.type) as type,
             coalesce(k.accounts, 0)::int8 as accounts, coalesce(k.balance, 0)::int8 as balance,
             coalesce(s.accounts, 0)::int8 as "scannedAccounts", coalesce(s.balance, 0)::int8 as "scannedBalance"
      from kept k full join scanned s on s.type = k.type
      where coalesce(k.accounts, 0) <> coalesce(s.accounts, 0) or coalesce(k.balance, 0) <> coalesce(s.balance, 0)
      order by 1`.execute(db);
    return rows;
  };
  if (db.isTransaction) return check(db);
  return (db as Kysely<DB>).transaction().setIsolationLevel('repeatable read').setAccessMode('read only').execute(check);
}
