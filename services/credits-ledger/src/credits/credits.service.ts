import { UUID_RE } from '@imlab/contracts';
import type { Db } from '@imlab/db';
import type { DB } from '../db.js';
import { findUserAccounts } from '../ledger/ledger.repository.js';
import { listAvailableMovements, type MovementRow } from './credits.repository.js';

export interface Movement {
  id: string;
  kind: string;
  /** Signed change to the available balance. */
  amount: number;
  description: string;
  reference: string | null;
  createdAt: string;
}

const credits = (n: number) => `${n} credit${n === 1 ? '' : 's'}`;

const REASONS: Record<string, string> = {
  failed: 'generation failed',
  canceled: 'generation canceled',
  cancelled: 'generation canceled',
  rejected: 'generation rejected',
  expired: 'generation expired',
};

/** What a person reads in their history; kinds are stable, descriptions are for humans. */
export function describe(row: MovementRow): { kind: string; description: string } {
  const what = row.reference || (row.hold_id ? `gen_${row.hold_id}` : '');
  switch (row.kind) {
    case 'grant_purchase':
      return { kind: 'purchase', description: `Credit purchase — ${credits(row.amount)}` };
    case 'grant_promo':
      return { kind: 'promo', description: `Promotional credits — ${credits(row.amount)}` };
    case 'reserve':
      return { kind: 'generation', description: `Image generation ${what} — ${credits(row.amount)}`.replace('  ', ' ') };
    case 'release':
      return { kind: 'refund', description: `Refund — ${REASONS[row.reason ?? ''] ?? row.reason ?? 'generation not completed'}` };
    case 'expire':
      return { kind: 'refund', description: 'Refund — generation expired' };
    case 'capture_return':
      return { kind: 'refund', description: `Refund — unused credits of ${what || 'a generation'}` };
    case 'clawback':
      return { kind: 'clawback', description: `Purchase refunded — ${credits(row.amount)} removed` };
    case 'restore':
      return { kind: 'restore', description: `Credits restored — ${credits(row.amount)} given back` };
    default:
      return { kind: row.kind, description: row.kind };
  }
}


/** Owner ids are UUIDs; any other subject simply owns nothing here (never a database cast error). */
const accountsOf = (db: Db<DB>, userId: string) => (UUID_RE.test(userId) ? findUserAccounts(db, userId) : Promise.resolve(undefined));

export async function balanceOf(db: Db<DB>, userId: string): Promise<{ available: number; held: number }> {
  const acc = await accountsOf(db, userId);
  return { available: acc?.available ?? 0, held: acc?.held ?? 0 };
}

export function encodeCursor(id: number): string {
  return Buffer.from(`t:${id}`).toString('base64url');
}

/** undefined when the cursor is not one we issued. */
export function decodeCursor(cursor: string): number | undefined {
  const m = /^t:(\d{1,15})$/.exec(Buffer.from(cursor, 'base64url').toString());
  return m ? Number(m[1]) : undefined;
}

export async function movementsOf(db: Db<DB>, userId: string, beforeId: number | null, limit: number): Promise<{ items: Movement[]; nextCursor: string | null }> {
  const acc = await accountsOf(db, userId);
  if (!acc) return { items: [], nextCursor: null };
  const rows = await listAvailableMovements(db, acc.availableId, beforeId, limit + 1);
  const page = rows.slice(0, limit);
  return {
    items: page.map((r) => ({
      id: encodeCursor(r.id),
      ...describe(r),
      amount: r.outgoing ? -r.amount : r.amount,
      reference: r.reference,
      createdAt: r.created_at.toISOString(),
    })),
    nextCursor: rows.length > limit && page.length > 0 ? encodeCursor(page[page.length - 1]!.id) : null,
  };
}
