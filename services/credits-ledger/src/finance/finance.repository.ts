import { sql, type Db, type RawBuilder } from '@imlab/db';
import type { DB } from '../db.js';
import { onOneSnapshot, totalsUpTo, uncovered } from './totals.js';

export interface TrialBalanceRow {
  account_id: string | null;
  type: string;
  accounts: number;
  debits: number;
  credits: number;
  stored: number;
}

/**
 * Debit and credit totals per system account, and per account type across all users, as of `at`
 * (inclusive; now when null). `stored` is the sum of the stored user balances, the figure the
 * write path maintains. Now: the account totals, a few rows per type (account-totals.ts). As of an
 * instant: the days rolled up count by their totals, the rest by its transfers (totals.ts).
 */
export async function trialBalance(db: Db<DB>, at: Date | null): Promise<TrialBalanceRow[]> {
  return at === null ? trialBalanceNow(db) : trialBalanceFromDays(db, at);
}

export async function trialBalanceNow(db: Db<DB>): Promise<TrialBalanceRow[]> {
  const { rows } = await sql<TrialBalanceRow>`
    select case when t.type in ('available', 'held') then null
                else (select a.id::text from accounts a where a.owner_id is null and a.type = t.type) end as account_id,
           t.type,
           sum(t.accounts)::int8 as accounts,
           sum(t.debits)::int8 as debits,
           sum(t.credits)::int8 as credits,
           sum(t.balance)::int8 as stored
    from account_totals t
    group by t.type
    having sum(t.accounts) <> 0 or sum(t.debits) <> 0 or sum(t.credits) <> 0
    order by (t.type in ('available', 'held')) desc, 2`.execute(db);
  return rows;
}

/**
 * The trial balance from the daily totals and the transfers no day covers, on one snapshot: the
 * only way as of a past instant, and the verifier's second opinion on the account totals now.
 * The accounts and stored balances are today's (account totals) whatever `at` is.
 */
export async function trialBalanceFromDays(db: Db<DB>, at: Date | null): Promise<TrialBalanceRow[]> {
  return onOneSnapshot(db, async (db) => {
    const rest = await uncovered(db, at, true);
    // One system account per type (accounts_system_type), so the type alone is the key.
    const { rows } = await sql<TrialBalanceRow>`
      with live as (select debit_account_id as acc, amount as d, 0::int8 as c from transfers where ${rest}
                    union all
                    select credit_account_id, 0::int8, amount from transfers where ${rest}),
           -- the few accounts moved since the last day rolled up, each looked up by its key (a
           -- join would hash every account to find them)
           moved as (select type, sum(d) as d, sum(c) as c
                     from (select (select a.type from accounts a where a.id = l.acc) as type, l.d, l.c
                           from (select acc, sum(d) as d, sum(c) as c from live group by acc) l) x
                     group by type),
           held as (select t.type, sum(t.accounts) as n, sum(t.balance) as stored,
                           (select a.id::text from accounts a where a.owner_id is null and a.type = t.type) as system_id
                    from account_totals t group by t.type having sum(t.accounts) <> 0)
      select case when held.type in ('available', 'held') then null else held.system_id end as account_id,
             held.type,
             held.n::int8 as accounts,
             coalesce(moved.d, 0)::int8 as debits,
             coalesce(moved.c, 0)::int8 as credits,
             held.stored::int8 as stored
      from held
      left join moved on moved.type = held.type
      order by (held.type in ('available', 'held')) desc, 2`.execute(db);
    const totals = new Map((await totalsUpTo(db, at)).map((t) => [`${t.type}/${t.account_id ?? ''}`, t]));
    return rows.map((r) => {
      const t = totals.get(`${r.type}/${r.account_id ?? ''}`);
      return t ? { ...r, debits: r.debits + t.debits, credits: r.credits + t.credits } : r;
    });
  }, { serial: true });
}

export async function findAccount(db: Db<DB>, id: string) {
  return db.selectFrom('accounts').select(['id', 'type', 'owner_id', 'anonymized_at']).where('id', '=', id).executeTakeFirst();
}

/**
 * credits − debits of one account over transfers created strictly before `before` (all when null).
 * A system account (`system`), which every posting of its kind moves, is the only account of its
 * type: now, its balance is its type's account totals; before an instant, its days rolled up count
 * by their totals. A person's account has few transfers and sums them.
 */
export async function balanceBefore(db: Db<DB>, accountId: string, before: Date | null, system: boolean): Promise<number> {
  if (system && !before) {
    const { rows } = await sql<{ balance: number }>`
      select coalesce(sum(t.credits) - sum(t.debits), 0)::int8 as balance
      from account_totals t where t.type = (select a.type from accounts a where a.id = ${accountId} and a.owner_id is null)`.execute(db);
    return rows[0]?.balance ?? 0;
  }
  const sum = async (db: Db<DB>, cond: RawBuilder<unknown>) => {
    const { rows } = await sql<{ balance: number }>`
      select (coalesce((select sum(amount) from transfers where credit_account_id = ${accountId} and ${cond}), 0)
            - coalesce((select sum(amount) from transfers where debit_account_id = ${accountId} and ${cond}), 0))::int8 as balance`.execute(db);
    return rows[0]?.balance ?? 0;
  };
  if (!system) return sum(db, before ? sql`created_at < ${before}` : sql`true`);
  return onOneSnapshot(db, async (db) => {
    const rolled = (await totalsUpTo(db, before, accountId)).reduce((b, t) => b + t.credits - t.debits, 0);
    return rolled + (await sum(db, await uncovered(db, before, false)));
  });
}

export interface StatementLine {
  id: number;
  created_at: Date;
  kind: string;
  amount: number;
  debit_account_id: string;
  credit_account_id: string;
  reference: string | null;
}

export async function statementLines(db: Db<DB>, accountId: string, from: Date, to: Date, afterId: number, limit: number): Promise<StatementLine[]> {
  const { rows } = await sql<StatementLine>`
    select id, created_at, kind, amount, debit_account_id, credit_account_id, reference
    from transfers
    where id in (
      (select id from transfers where debit_account_id = ${accountId} and id > ${afterId} and created_at >= ${from} and created_at < ${to} order by id limit ${limit})
      union all
      (select id from transfers where credit_account_id = ${accountId} and id > ${afterId} and created_at >= ${from} and created_at < ${to} order by id limit ${limit})
    )
    order by id
    limit ${limit}`.execute(db);
  return rows;
}

export interface ExportRow {
  id: number;
  created_at: Date;
  kind: string;
  amount: number;
  debit_account_id: string;
  debit_type: string;
  credit_account_id: string;
  credit_type: string;
  posting_id: number | null;
  hold_id: string | null;
  reference: string | null;
}

export async function exportPage(db: Db<DB>, afterId: number, from: Date | null, to: Date | null, limit: number): Promise<ExportRow[]> {
  const { rows } = await sql<ExportRow>`
    select t.id, t.created_at, t.kind, t.amount, t.debit_account_id, da.type as debit_type, t.credit_account_id, ca.type as credit_type,
           t.posting_id, t.hold_id, t.reference
    from transfers t
    join accounts da on da.id = t.debit_account_id
    join accounts ca on ca.id = t.credit_account_id
    where t.id > ${afterId}
      ${from ? sql`and t.created_at >= ${from}` : sql``}
      ${to ? sql`and t.created_at < ${to}` : sql``}
    order by t.id
    limit ${limit}`.execute(db);
  return rows;
}
