import type { Kysely } from '@imlab/db';
import { UUID_RE } from '@imlab/contracts';
import { invalidCursor } from '@imlab/http';
import type { DB } from '../db.js';
import * as orders from './orders.repository.js';
import type { OrderRow } from './orders.repository.js';

export interface OrderView {
  id: string;
  packId: string;
  credits: number;
  amount: number;
  currency: string;
  status: string;
  refundedAmount: number;
  createdAt: string;
  paidAt: string | null;
}

export function toView(o: OrderRow): OrderView {
  return {
    id: o.id,
    packId: o.pack_id,
    credits: o.credits,
    amount: o.amount,
    currency: o.currency,
    status: o.status,
    refundedAmount: o.refunded_amount,
    createdAt: o.created_at.toISOString(),
    paidAt: o.paid_at ? o.paid_at.toISOString() : null,
  };
}

/** Cursor pagination: the cursor is the last order id seen (UUIDv7, so ordered by creation). */
export async function listOwnOrders(db: Kysely<DB>, userId: string, cursor: string | undefined, limit: number): Promise<{ items: OrderView[]; nextCursor: string | null }> {
  if (cursor && !UUID_RE.test(cursor)) throw invalidCursor();
  const rows = await orders.listOrdersForUser(db, userId, { ...(cursor ? { before: cursor } : {}), limit: limit + 1 });
  const page = rows.slice(0, limit);
  return { items: page.map(toView), nextCursor: rows.length > limit ? page[page.length - 1]!.id : null };
}

/** Every order of a person, oldest first, for their data export. */
export async function exportOrders(db: Kysely<DB>, userId: string): Promise<OrderView[]> {
  const out: OrderView[] = [];
  let before: string | undefined;
  for (;;) {
    const rows = await orders.listOrdersForUser(db, userId, { ...(before ? { before } : {}), limit: 500 });
    out.push(...rows.map(toView));
    if (rows.length < 500) break;
    before = rows[rows.length - 1]!.id;
  }
  return out.reverse();
}
