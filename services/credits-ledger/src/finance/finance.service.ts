import type { Db } from '@imlab/db';
import { notFound, badRequest } from '@imlab/http';
import type { DB } from '../db.js';
import * as repo from './finance.repository.js';

const USER_TYPES = new Set(['available', 'held']);

export async function trialBalance(db: Db<DB>, at: Date | null) {
  const rows = await repo.trialBalance(db, at);
  const lines = rows.map((r) => ({
    accountId: r.account_id,
    type: r.type,
    scope: USER_TYPES.has(r.type) ? ('users' as const) : ('system' as const),
    accounts: r.accounts,
    debits: r.debits,
    credits: r.credits,
    balance: r.credits - r.debits,
  }));
  const debits = lines.reduce((s, l) => s + l.debits, 0);
  const credits = lines.reduce((s, l) => s + l.credits, 0);
  // The stored user balances must equal what the transfers say; only meaningful for "now".
  const storedMatches = at ? null : rows.filter((r) => USER_TYPES.has(r.type)).every((r) => r.stored === r.credits - r.debits);
  return { asOf: (at ?? new Date()).toISOString(), lines, totals: { debits, credits, balance: credits - debits }, storedBalancesMatch: storedMatches };
}

async function accountOrThrow(db: Db<DB>, id: string) {
  const acc = await repo.findAccount(db, id);
  if (!acc) throw notFound('account', 'LEDGER_ACCOUNT_NOT_FOUND');
  return acc;
}

const describeAccount = (a: { id: string; type: string; owner_id: string | null; anonymized_at: Date | null }) => ({
  id: a.id,
  type: a.type,
  scope: a.owner_id === null ? ('system' as const) : ('user' as const),
  anonymized: a.anonymized_at !== null,
});

export async function balanceAt(db: Db<DB>, id: string, at: Date | null) {
  const acc = await accountOrThrow(db, id);
  // "at" is inclusive: the balance after every transfer made at or before that instant.
  const before = at ? new Date(at.getTime() + 1) : null;
  return { account: describeAccount(acc), at: (at ?? new Date()).toISOString(), balance: await repo.balanceBefore(db, id, before, acc.owner_id === null) };
}

export async function statement(db: Db<DB>, id: string, from: Date, to: Date, afterId: number, limit: number) {
  if (from.getTime() > to.getTime()) throw badRequest('VALIDATION_FAILED', '"from" must not be after "to"');
  const acc = await accountOrThrow(db, id);
  const [opening, closing, rows] = await Promise.all([
    repo.balanceBefore(db, id, from, acc.owner_id === null),
    repo.balanceBefore(db, id, to, acc.owner_id === null),
    repo.statementLines(db, id, from, to, afterId, limit + 1),
  ]);
  const page = rows.slice(0, limit);
  return {
    account: describeAccount(acc),
    from: from.toISOString(),
    to: to.toISOString(),
    openingBalance: opening,
    closingBalance: closing,
    items: page.map((r) => {
      const credit = r.credit_account_id === id;
      return {
        transferId: r.id,
        createdAt: r.created_at.toISOString(),
        kind: r.kind,
        side: credit ? ('credit' as const) : ('debit' as const),
        amount: credit ? r.amount : -r.amount,
        counterAccountId: credit ? r.debit_account_id : r.credit_account_id,
        reference: r.reference,
      };
    }),
    nextCursor: rows.length > limit && page.length > 0 ? String(page[page.length - 1]!.id) : null,
  };
}

const CSV_HEADER = 'transfer_id,created_at,kind,amount,debit_account_id,debit_type,credit_account_id,credit_type,posting_id,hold_id,reference\n';

/** RFC 4180 quoting, plus a leading quote for cells a spreadsheet would run as a formula. */
function cell(v: string | number | null): string {
  if (v === null) return '';
  let s = String(v);
  if (/^[=+\-@\t\r]/.test(s) && typeof v === 'string') s = `'${s}`;
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
}

/** The transfer log as CSV, one keyset page at a time: memory stays flat however long the log is. */
export async function* exportCsv(db: Db<DB>, from: Date | null, to: Date | null, pageSize = 2000): AsyncGenerator<string> {
  yield CSV_HEADER;
  let after = 0;
  for (;;) {
    const rows = await repo.exportPage(db, after, from, to, pageSize);
    if (rows.length === 0) return;
    yield rows
      .map((r) =>
        [r.id, r.created_at.toISOString(), r.kind, r.amount, r.debit_account_id, r.debit_type, r.credit_account_id, r.credit_type, r.posting_id, r.hold_id, r.reference]
          .map(cell)
          .join(','),
      )
      .join('\n')
      .concat('\n');
    after = rows[rows.length - 1]!.id;
    if (rows.length < pageSize) return;
  }
}

/** A statement's postings for CSV, one keyset page at a time. */
export async function* statementPages(db: Db<DB>, id: string, from: Date, to: Date, pageSize = 2000) {
  let after = 0;
  for (;;) {
    const rows = await repo.statementLines(db, id, from, to, after, pageSize);
    if (rows.length === 0) return;
    yield rows.map((r) => {
      const credit = r.credit_account_id === id;
      return {
        transfer_id: r.id,
        created_at: r.created_at.toISOString(),
        kind: r.kind,
        side: credit ? 'credit' : 'debit',
        amount: credit ? r.amount : -r.amount,
        counter_account_id: credit ? r.debit_account_id : r.credit_account_id,
        reference: r.reference,
      };
    });
    after = rows[rows.length - 1]!.id;
    if (rows.length < pageSize) return;
  }
}
