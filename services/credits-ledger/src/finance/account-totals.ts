import { sql, type Db, type Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { trialBalanceFromDays, trialBalanceNow } from './finance.repository.js';
import { onOneSnapshot } from './totals.js';

// Account totals (migration 0010): per account type, how many accounts there are, what their
// stored balances sum to and their transfers' debits and credits, kept by triggers on `accounts`
// and `transfers` in rows per database session. The trial balance "now" reads them instead of
// every account and the transfers since the last day rolled up.

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
        returning type, accounts, balance, debits, credits),
      folded as (
        insert into account_totals (type, slot, accounts, balance, debits, credits)
        select type, 0, sum(accounts), sum(balance), sum(debits), sum(credits) from gone group by type
        on conflict (type, slot) do update
          set accounts = account_totals.accounts + excluded.accounts, balance = account_totals.balance + excluded.balance,
              debits = account_totals.debits + excluded.debits, credits = account_totals.credits + excluded.credits)
      select count(*)::int as n from gone`.execute(tx);
    return rows[0]?.n ?? 0;
  });
}

const FIGURES = ['accounts', 'balance', 'debits', 'credits'] as const;

export interface AccountTotalsMismatch {
  type: string;
  /** What account_totals says. */
  kept: { accounts: number; balance: number; debits: number; credits: number };
  /** What a scan of `accounts` (accounts, balance) and the daily totals with the transfers they do not cover (debits, credits) say. */
  found: { accounts: number; balance: number; debits: number; credits: number };
}

/**
 * Compares the totals, on one snapshot, with a full scan of `accounts` and with the trial balance
 * from the daily totals and the transfers they do not cover: they differ only if a session wrote
 * `accounts` or `transfers` with triggers switched off (or the totals were edited by hand).
 * O(accounts): the background's verifier runs it, never a read a person waits on.
 */
export async function verifyAccountTotals(db: Db<DB>): Promise<AccountTotalsMismatch[]> {
  const check = async (db: Db<DB>) => {
    const totals = new Map((await trialBalanceNow(db)).map((r) => [r.type, r]));
    const fromDays = new Map((await trialBalanceFromDays(db, null)).map((r) => [r.type, r]));
    const { rows: scanned } = await sql<{ type: string; accounts: number; balance: number }>`
      select type, count(*)::int8 as accounts, coalesce(sum(balance), 0)::int8 as balance from accounts group by type`.execute(db);
    const scan = new Map(scanned.map((r) => [r.type, r]));
    const out: AccountTotalsMismatch[] = [];
    for (const type of [...new Set([...totals.keys(), ...fromDays.keys(), ...scan.keys()])].sort()) {
      const k = totals.get(type);
      const d = fromDays.get(type);
      const a = scan.get(type);
      const kept = { accounts: k?.accounts ?? 0, balance: k?.stored ?? 0, debits: k?.debits ?? 0, credits: k?.credits ?? 0 };
      const found = { accounts: a?.accounts ?? 0, balance: a?.balance ?? 0, debits: d?.debits ?? 0, credits: d?.credits ?? 0 };
      if (FIGURES.some((f) => kept[f] !== found[f])) out.push({ type, kept, found });
    }
    return out;
  };
  return onOneSnapshot(db, check, { serial: true });
}
