import { sql, type Db, type RawBuilder } from '@imlab/db';
import type { DB } from '../db.js';
import { coverage, onOneSnapshot, totalsOf } from './totals.js';

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
 * (inclusive). `stored` is the sum of the stored user balances, the figure the write path maintains.
 * The months rolled up count by their totals, the rest by its transfers (totals.ts), on one snapshot.
 */
export async function trialBalance(db: Db<DB>, at: Date | null): Promise<TrialBalanceRow[]> {
  return onOneSnapshot(db, async (db) => {
    const cover = await coverage(db, at, true);
    const { rows } = await sql<TrialBalanceRow>`
      with d as (select debit_account_id as acc, sum(amount) as s from transfers where ${cover.uncovered} group by 1),
           c as (select credit_account_id as acc, sum(amount) as s from transfers where ${cover.uncovered} group by 1)
      select case when a.owner_id is null then a.id::text end as account_id,
             a.type,
             count(*)::int8 as accounts,
             coalesce(sum(d.s), 0)::int8 as debits,
             coalesce(sum(c.s), 0)::int8 as credits,
             sum(a.balance)::int8 as stored
      from accounts a
      left join d on d.acc = a.id
      left join c on c.acc = a.id
      group by 1, 2
      order by (a.type in ('available', 'held')) desc, 2`.execute(db);
    const totals = new Map((await totalsOf(db, cover.months)).map((t) => [`${t.type}/${t.account_id ?? ''}`, t]));
    return rows.map((r) => {
      const t = totals.get(`${r.type}/${r.account_id ?? ''}`);
      return t ? { ...r, debits: r.debits + t.debits, credits: r.credits + t.credits } : r;
    });
  });
}

export async function findAccount(db: Db<DB>, id: string) {
  return db.selectFrom('accounts').select(['id', 'type', 'owner_id', 'anonymized_at']).where('id', '=', id).executeTakeFirst();
}

/**
 * credits − debits of one account over transfers created strictly before `before` (all when null).
 * A system account (`system`), which every posting of its kind moves, counts its months rolled up by
 * their totals; a person's account has few transfers and sums them.
 */
export async function balanceBefore(db: Db<DB>, accountId: string, before: Date | null, system: boolean): Promise<number> {
  const sum = async (db: Db<DB>, cond: RawBuilder<unknown>) => {
    const { rows } = await sql<{ balance: number }>`
      select (coalesce((select sum(amount) from transfers where credit_account_id = ${accountId} and ${cond}), 0)
            - coalesce((select sum(amount) from transfers where debit_account_id = ${accountId} and ${cond}), 0))::int8 as balance`.execute(db);
    return rows[0]?.balance ?? 0;
  };
  if (!system) return sum(db, before ? sql`created_at < ${before}` : sql`true`);
  return onOneSnapshot(db, async (db) => {
    const cover = await coverage(db, before, false);
    const rolled = (await totalsOf(db, cover.months, accountId)).reduce((b, t) => b + t.credits - t.debits, 0);
    return rolled + (await sum(db, cover.uncovered));
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
