import { sql, type Db, type Transaction } from '@imlab/db';
import type { Insertable, Selectable } from 'kysely';
import type { DB, OrderStatus, OrderTable, PostingCause, PostingKind } from '../db.js';

export type OrderRow = Selectable<OrderTable>;

/** Inserts the order; undefined when the person already has an order under the same Idempotency-Key. */
export async function insertOrder(db: Db<DB>, row: Insertable<OrderTable>): Promise<OrderRow | undefined> {
  return db
    .insertInto('orders')
    .values(row)
    .onConflict((oc) => oc.columns(['user_id', 'idempotency_key']).where('idempotency_key', 'is not', null).doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function findOrderByIdempotencyKey(db: Db<DB>, userId: string, key: string): Promise<OrderRow | undefined> {
  return db.selectFrom('orders').selectAll().where('user_id', '=', userId).where('idempotency_key', '=', key).executeTakeFirst();
}

/**
 * Records the order's Checkout Session. An order the sweeper failed meanwhile for having no
 * session (the create took longer than PENDING_ORDER_SWEEP_AGE) is pending again: its page is
 * being handed out and can be paid, and only pending orders are swept for a lost webhook.
 */
export async function setCheckoutSession(db: Db<DB>, orderId: string, sessionId: string, url: string | null = null): Promise<void> {
  await db
    .updateTable('orders')
    .set({
      stripe_session_id: sessionId,
      ...(url ? { checkout_url: url } : {}),
      status: sql<OrderStatus>`case when status = 'failed' and stripe_session_id is null then 'pending' else status end`,
      closed_at: sql<Date | null>`case when status = 'failed' and stripe_session_id is null then null else closed_at end`,
      updated_at: new Date(),
    })
    .where('id', '=', orderId)
    .execute();
}

export async function findOrder(db: Db<DB>, orderId: string): Promise<OrderRow | undefined> {
  return db.selectFrom('orders').selectAll().where('id', '=', orderId).executeTakeFirst();
}

export async function lockOrder(tx: Transaction<DB>, orderId: string): Promise<OrderRow | undefined> {
  return tx.selectFrom('orders').selectAll().where('id', '=', orderId).forUpdate().executeTakeFirst();
}

export async function lockOrderBySession(tx: Transaction<DB>, sessionId: string): Promise<OrderRow | undefined> {
  return tx.selectFrom('orders').selectAll().where('stripe_session_id', '=', sessionId).forUpdate().executeTakeFirst();
}

export async function lockOrderByPaymentIntent(tx: Transaction<DB>, paymentIntentId: string): Promise<OrderRow | undefined> {
  return tx.selectFrom('orders').selectAll().where('stripe_payment_intent_id', '=', paymentIntentId).forUpdate().executeTakeFirst();
}

/**
 * Serialises everything that concerns one PaymentIntent (learning it on an order, parking events
 * that name it) so an event parked concurrently with the order learning its PaymentIntent is
 * never left behind.
 */
export async function lockPaymentIntent(tx: Transaction<DB>, paymentIntentId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`pi:${paymentIntentId}`}, 0))`.execute(tx);
}

export async function updateOrder(
  tx: Transaction<DB>,
  orderId: string,
  patch: Partial<Pick<OrderRow, 'status' | 'stripe_payment_intent_id' | 'refunded_amount' | 'paid_at' | 'closed_at' | 'auto_refund_requested_at' | 'paid_amount' | 'paid_currency' | 'refund_failed_at' | 'tax_amount'>>,
): Promise<void> {
  await tx
    .updateTable('orders')
    .set({ ...patch, updated_at: new Date() })
    .where('id', '=', orderId)
    .execute();
}

export async function setStatusIf(db: Db<DB>, orderId: string, from: OrderStatus, to: OrderStatus): Promise<boolean> {
  const res = await db
    .updateTable('orders')
    .set({ status: to, closed_at: new Date(), updated_at: new Date() })
    .where('id', '=', orderId)
    .where('status', '=', from)
    .executeTakeFirst();
  return Number(res.numUpdatedRows) > 0;
}

/** A person's orders, newest first (ids are UUIDv7, so id order is creation order). */
export async function listOrdersForUser(db: Db<DB>, userId: string, opts: { before?: string; limit: number }): Promise<OrderRow[]> {
  let q = db.selectFrom('orders').selectAll().where('user_id', '=', userId);
  if (opts.before) q = q.where('id', '<', opts.before);
  return q.orderBy('id', 'desc').limit(opts.limit).execute();
}

/** Least recently looked-at first, so a backlog of still-open sessions cannot starve newer orders. */
export async function pendingOrdersOlderThan(db: Db<DB>, cutoff: Date, limit: number): Promise<OrderRow[]> {
  return db.selectFrom('orders').selectAll().where('status', '=', 'pending').where('created_at', '<', cutoff).orderBy('updated_at').orderBy('id').limit(limit).execute();
}

export async function touchOrder(db: Db<DB>, orderId: string): Promise<void> {
  await db.updateTable('orders').set({ updated_at: new Date() }).where('id', '=', orderId).execute();
}

/** user.purge: orders stay for the books but lose the link to the person. */
export async function unlinkUser(db: Db<DB>, userId: string): Promise<number> {
  // The client's Idempotency-Key is the person's text: it goes with them.
  const res = await db
    .updateTable('orders')
    .set({ user_id: null, idempotency_key: null, request_hash: null, checkout_url: null, updated_at: new Date() })
    .where('user_id', '=', userId)
    .executeTakeFirst();
  return Number(res.numUpdatedRows);
}

export interface DisputeRow {
  id: string;
  order_id: string;
  amount: number;
  status: string;
  funds_reinstated: boolean;
}

export async function findDispute(tx: Transaction<DB>, disputeId: string): Promise<DisputeRow | undefined> {
  return tx.selectFrom('order_disputes').select(['id', 'order_id', 'amount', 'status', 'funds_reinstated']).where('id', '=', disputeId).executeTakeFirst();
}

export async function upsertDispute(tx: Transaction<DB>, row: DisputeRow): Promise<void> {
  await tx
    .insertInto('order_disputes')
    .values(row)
    .onConflict((oc) => oc.column('id').doUpdateSet({ amount: row.amount, status: row.status, funds_reinstated: row.funds_reinstated, updated_at: new Date() }))
    .execute();
}

export async function listDisputes(tx: Transaction<DB>, orderId: string): Promise<DisputeRow[]> {
  return tx.selectFrom('order_disputes').select(['id', 'order_id', 'amount', 'status', 'funds_reinstated']).where('order_id', '=', orderId).orderBy('id').execute();
}

/** Records a ledger command as sent; false when that idempotency key was sent before. */
export async function recordPosting(
  tx: Transaction<DB>,
  row: { idempotency_key: string; order_id: string; kind: PostingKind; cause: PostingCause; credits: number },
): Promise<boolean> {
  const inserted = await tx.insertInto('order_postings').values(row).onConflict((oc) => oc.doNothing()).returning('idempotency_key').executeTakeFirst();
  return inserted !== undefined;
}

/** Every ledger command billing sent for an order, oldest first. */
export async function listPostings(tx: Transaction<DB>, orderId: string): Promise<{ idempotency_key: string; kind: PostingKind; cause: PostingCause; credits: number }[]> {
  const rows = await tx.selectFrom('order_postings').select(['idempotency_key', 'kind', 'cause', 'credits']).where('order_id', '=', orderId).orderBy('seq').execute();
  return rows.map((r) => ({ ...r, credits: Number(r.credits) }));
}
