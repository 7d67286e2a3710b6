import type { Db, Kysely } from '@imlab/db';
import type { Period } from '@imlab/http';
import type { DB, MovementKind } from '../db.js';
import * as repo from './revenue.repository.js';
import { LIABILITY_SIGN, recognise } from './revenue.service.js';

export interface CurrencyFigures {
  /** `null`: credits that carry no money (free grants, and history from before prices reached the ledger). */
  currency: string | null;
  openingLiability: number;
  sold: number;
  spent: number;
  refunded: number;
  clawedBack: number;
  restored: number;
  closingLiability: number;
  /** opening + sold − spent − refunded − clawed back + restored = closing. */
  balances: boolean;
  credits: { opening: number; sold: number; grantedFree: number; spent: number; refunded: number; clawedBack: number; restored: number; closing: number };
}

export interface RevenueReport {
  from: string;
  to: string;
  tz: string;
  /** Revenue recognised in the period = `spent` per currency. */
  currencies: CurrencyFigures[];
  /** Credits outstanding at `to` (all lots) against what people hold per the transfers (available + held + erased). */
  trialBalance: { outstandingCredits: number; heldByPeople: number; tiesOut: boolean };
  /**
   * For a period reaching now: whether the closing liability equals what the lots still hold
   * (computed from the other side); null for a period in the past.
   */
  lotsAgree: boolean | null;
  rule: string;
  /** Set when the report answers a closed month's frozen figures. */
  closed: { closedAt: string; checkpoint: { id: number; hash: string; lastTransferId: number } | null } | null;
}

export const RULE =
  'Each grant is a lot: a purchase at its price net of tax, a promo or goodwill grant free. Spending takes credits first in, first out across the person\'s lots and recognises each lot\'s price per credit as revenue. A refund or dispute clawback takes its own order\'s lot first, then first in, first out; a restore refills its order\'s lot. Debt (credits clawed back beyond the balance) carries no money.';

const emptyCredits = () => ({ opening: 0, sold: 0, grantedFree: 0, spent: 0, refunded: 0, clawedBack: 0, restored: 0, closing: 0 });
const creditKey: Record<MovementKind, keyof ReturnType<typeof emptyCredits>> = { sold: 'sold', granted_free: 'grantedFree', spent: 'spent', refunded: 'refunded', clawed_back: 'clawedBack', restored: 'restored' };
const moneyKey: Partial<Record<MovementKind, 'sold' | 'spent' | 'refunded' | 'clawedBack' | 'restored'>> = { sold: 'sold', spent: 'spent', refunded: 'refunded', clawed_back: 'clawedBack', restored: 'restored' };

/** The period's figures from the movements (after catching up with the transfers). */
export async function revenueFigures(db: Db<DB>, period: Period): Promise<RevenueReport> {
  const by = new Map<string | null, CurrencyFigures>();
  const row = (c: string | null) => {
    let f = by.get(c);
    if (!f) {
      f = { currency: c, openingLiability: 0, sold: 0, spent: 0, refunded: 0, clawedBack: 0, restored: 0, closingLiability: 0, balances: true, credits: emptyCredits() };
      by.set(c, f);
    }
    return f;
  };
  let outstanding = 0;
  for (const s of await repo.movementSums(db, period.from, period.to)) {
    const f = row(s.currency);
    const sign = LIABILITY_SIGN[s.kind];
    f.closingLiability += sign * s.amount;
    f.credits.closing += sign * s.credits;
    outstanding += sign * s.credits;
    if (s.before) {
      f.openingLiability += sign * s.amount;
      f.credits.opening += sign * s.credits;
      continue;
    }
    f.credits[creditKey[s.kind]] += s.credits;
    const k = moneyKey[s.kind];
    if (k) f[k] += s.amount;
  }
  for (const f of by.values()) {
    f.balances = f.openingLiability + f.sold - f.spent - f.refunded - f.clawedBack + f.restored === f.closingLiability;
  }
  const held = await repo.heldByPeople(db, period.to);
  let lotsAgree: boolean | null = null;
  if (period.to.getTime() > Date.now()) {
    const lots = await repo.lotsNow(db);
    lotsAgree = lots.every((l) => (by.get(l.currency)?.closingLiability ?? 0) === l.remaining_value && (by.get(l.currency)?.credits.closing ?? 0) >= 0);
  }
  return {
    from: period.from.toISOString(),
    to: period.to.toISOString(),
    tz: period.tz,
    currencies: [...by.values()].sort((a, b) => (a.currency ?? '~').localeCompare(b.currency ?? '~')),
    trialBalance: { outstandingCredits: outstanding, heldByPeople: held, tiesOut: outstanding === held },
    lotsAgree,
    rule: RULE,
    closed: null,
  };
}

export async function revenueReport(db: Kysely<DB>, period: Period): Promise<RevenueReport> {
  await recognise(db);
  return revenueFigures(db, period);
}

export interface MovementView {
  movementId: number;
  createdAt: string;
  kind: MovementKind;
  credits: number;
  amount: number;
  currency: string | null;
  lotId: number | null;
  transferId: number;
  reference: string | null;
}

export const toMovementView = (m: repo.MovementLine): MovementView => ({
  movementId: m.id,
  createdAt: m.created_at.toISOString(),
  kind: m.kind,
  credits: m.credits,
  amount: m.amount,
  currency: m.currency,
  lotId: m.lot_id,
  transferId: m.transfer_id,
  reference: m.reference,
});

export async function movementsPage(db: Kysely<DB>, period: Period, afterId: number, limit: number): Promise<{ items: MovementView[]; nextCursor: string | null }> {
  if (afterId === 0) await recognise(db);
  const rows = await repo.movementLines(db, period.from, period.to, afterId, limit + 1);
  const page = rows.slice(0, limit);
  return { items: page.map(toMovementView), nextCursor: rows.length > limit ? String(page[page.length - 1]!.id) : null };
}

export async function* allMovements(db: Kysely<DB>, period: Period, pageSize = 2000): AsyncGenerator<MovementView[]> {
  await recognise(db);
  let after = 0;
  for (;;) {
    const rows = await repo.movementLines(db, period.from, period.to, after, pageSize);
    if (rows.length === 0) return;
    yield rows.map(toMovementView);
    after = rows[rows.length - 1]!.id;
    if (rows.length < pageSize) return;
  }
}
