import type { Kysely, Transaction } from '@imlab/db';
import type { Insertable } from 'kysely';
import type { DB, MovementKind, RevenueMovementTable } from '../db.js';
import * as repo from './revenue.repository.js';

type Tx = Transaction<DB>;
type Movement = Insertable<RevenueMovementTable>;

/** What is left of a lot's value when `remaining` of its `credits` are left: exact at both ends, rounded between. */
const valueLeft = (lot: { value: number; credits: number }, remaining: number) => (remaining === 0 ? 0 : Math.round((lot.value * remaining) / lot.credits));

/** Which way a movement changes what is owed: sold and restored add, the rest take away; free grants carry no money. */
export const LIABILITY_SIGN: Record<MovementKind, 1 | -1> = { sold: 1, granted_free: 1, restored: 1, spent: -1, refunded: -1, clawed_back: -1 };

/**
 * Takes `credits` out of a person's lots — those of `reference` first (a refund or dispute takes
 * back its own order's credits while they last), then first in, first out — recording each
 * lot's share at that lot's price. Credits no lot backs (history from before revenue was
 * recognised) are recorded without money.
 */
async function take(tx: Tx, t: repo.TransferToRecognise, pool: string, kind: MovementKind, reference: string | null): Promise<Movement[]> {
  let left = t.amount;
  const out: Movement[] = [];
  for (const lot of await repo.openLots(tx, pool, reference)) {
    if (left === 0) break;
    const k = Math.min(left, lot.remaining);
    const remaining = lot.remaining - k;
    const remainingValue = valueLeft(lot, remaining);
    await repo.updateLot(tx, lot.id, remaining, remainingValue);
    out.push({ transfer_id: t.id, lot_id: lot.id, kind, credits: k, amount: lot.remaining_value - remainingValue, currency: lot.currency, reference, created_at: t.created_at });
    left -= k;
  }
  if (left > 0) out.push({ transfer_id: t.id, lot_id: null, kind, credits: left, amount: 0, currency: null, reference, created_at: t.created_at });
  return out;
}

/** A restore puts credits back into its order's lot (up to what the lot held), the rest into a new lot at the same price. */
async function restore(tx: Tx, t: repo.TransferToRecognise, pool: string): Promise<Movement[]> {
  const lot = t.reference ? await repo.lotOfReference(tx, pool, t.reference) : undefined;
  const out: Movement[] = [];
  let left = t.amount;
  if (lot) {
    const k = Math.min(left, lot.credits - lot.remaining);
    if (k > 0) {
      const remainingValue = valueLeft(lot, lot.remaining + k);
      await repo.updateLot(tx, lot.id, lot.remaining + k, remainingValue);
      out.push({ transfer_id: t.id, lot_id: lot.id, kind: 'restored', credits: k, amount: remainingValue - lot.remaining_value, currency: lot.currency, reference: t.reference, created_at: t.created_at });
      left -= k;
    }
  }
  if (left > 0) {
    const value = lot ? Math.round((lot.value * left) / lot.credits) : 0;
    const fresh = await repo.insertLot(tx, {
      pool,
      source: lot && lot.currency ? 'restore' : 'unpriced',
      reference: t.reference,
      currency: lot?.currency ?? null,
      credits: left,
      value,
      remaining: left,
      remaining_value: value,
      created_at: t.created_at,
    });
    out.push({ transfer_id: t.id, lot_id: fresh.id, kind: 'restored', credits: left, amount: value, currency: fresh.currency, reference: t.reference, created_at: t.created_at });
  }
  return out;
}

async function recogniseOne(tx: Tx, t: repo.TransferToRecognise, erasedId: string): Promise<Movement[]> {
  // Purge aggregates restate, on `erased`, history already recognised from the person's own transfers.
  if (t.debit_account_id === erasedId || t.credit_account_id === erasedId || !t.subject_id) return [];
  const pool = t.subject_id;
  switch (t.kind) {
    case 'grant_purchase': {
      const priced = t.value_amount !== null && t.value_currency !== null;
      const lot = await repo.insertLot(tx, {
        pool,
        source: priced ? 'purchase' : 'unpriced',
        reference: t.reference,
        currency: priced ? t.value_currency : null,
        credits: t.amount,
        value: priced ? t.value_amount! : 0,
        remaining: t.amount,
        remaining_value: priced ? t.value_amount! : 0,
        created_at: t.created_at,
      });
      return [{ transfer_id: t.id, lot_id: lot.id, kind: 'sold', credits: t.amount, amount: lot.value, currency: lot.currency, reference: t.reference, created_at: t.created_at }];
    }
    case 'grant_promo':
    case 'grant_goodwill': {
      // Promo, bonus and goodwill credits are free: a lot without money.
      const lot = await repo.insertLot(tx, { pool, source: 'free', reference: t.reference, currency: null, credits: t.amount, value: 0, remaining: t.amount, remaining_value: 0, created_at: t.created_at });
      return [{ transfer_id: t.id, lot_id: lot.id, kind: 'granted_free', credits: t.amount, amount: 0, currency: null, reference: t.reference, created_at: t.created_at }];
    }
    case 'capture':
      return take(tx, t, pool, 'spent', null);
    case 'clawback':
    case 'debt_repay':
      // Billing keys a refund's clawbacks `order:<id>:refund…`, a dispute's `order:<id>:dispute…`;
      // a debt repaid from a returned hold carries the posting of the clawback that left the debt.
      return take(tx, t, pool, t.posting_key?.includes(':refund') ? 'refunded' : 'clawed_back', t.reference);
    case 'restore':
      return restore(tx, t, pool);
    default:
      // Any other grant into a person's account (a source added later) is free credits too.
      if (t.kind.startsWith('grant_')) return recogniseOne(tx, { ...t, kind: 'grant_promo' }, erasedId);
      // reserve, release, capture_return, expire move credits between a person's own accounts;
      // clawback_debt and restore_debt move debt, which is not a credit anyone holds.
      return [];
  }
}

/**
 * Brings the revenue subledger up to date with the transfers: each new one, in chain order,
 * becomes movements of lots. Idempotent and resumable (the cursor moves in the same transaction
 * as the movements); one runner at a time. Returns how many transfers were read.
 */
export async function recognise(db: Kysely<DB>, batch = 500): Promise<number> {
  let total = 0;
  const erasedId = await repo.erasedAccountId(db);
  for (;;) {
    const n = await db.transaction().execute(async (tx) => {
      if (!(await repo.tryLockRecogniser(tx))) return 0;
      const cursor = await repo.readCursor(tx);
      const rows = await repo.nextTransfers(tx, cursor, batch);
      if (rows.length === 0) return 0;
      // A transfer recognised after its month was closed (committed just before the close) is
      // dated at the start of the next open period: a closed month never changes.
      const closedUntil = await repo.closedUntil(tx);
      const movements: Movement[] = [];
      for (const t of rows) {
        for (const m of await recogniseOne(tx, t, erasedId)) movements.push(closedUntil && (m.created_at as Date) < closedUntil ? { ...m, created_at: closedUntil } : m);
      }
      await repo.insertMovements(tx, movements);
      const last = rows[rows.length - 1]!;
      await repo.writeCursor(tx, { xid: last.xid, id: last.id });
      return rows.length;
    });
    total += n;
    if (n < batch) return total;
  }
}
