import type { Db, Transaction } from '@imlab/db';
import type { Selectable } from 'kysely';
import type { DB, StripeEventStatus, StripeEventTable } from '../db.js';
import type { EventFacts } from './event-facts.js';

export type StripeEventRow = Selectable<StripeEventTable>;

/** Stores an event once; false when its id was stored before (a replay). */
export async function insertEvent(db: Db<DB>, f: EventFacts): Promise<boolean> {
  const inserted = await db
    .insertInto('stripe_events')
    .values({
      id: f.id,
      type: f.type,
      created: f.created,
      order_id: f.orderId,
      object_id: f.objectId,
      payment_intent_id: f.paymentIntentId,
      object_status: f.objectStatus,
      amount: f.amount,
      currency: f.currency,
      tax_amount: f.taxAmount,
      processed_at: null,
    })
    .onConflict((oc) => oc.column('id').doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function lockEvent(tx: Transaction<DB>, id: string): Promise<StripeEventRow | undefined> {
  return tx.selectFrom('stripe_events').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

export async function finishEvent(tx: Transaction<DB>, id: string, status: StripeEventStatus): Promise<void> {
  await tx
    .updateTable('stripe_events')
    .set({ status, processed_at: status === 'parked' ? null : new Date() })
    .where('id', '=', id)
    .execute();
}

/** Events that named a PaymentIntent before any order knew it, oldest first. */
export async function parkedEventIds(tx: Transaction<DB>, paymentIntentId: string): Promise<string[]> {
  const rows = await tx
    .selectFrom('stripe_events')
    .select('id')
    .where('status', '=', 'parked')
    .where('payment_intent_id', '=', paymentIntentId)
    .orderBy('created')
    .orderBy('received_at')
    .execute();
  return rows.map((r) => r.id);
}

export async function findEvent(db: Db<DB>, id: string): Promise<StripeEventRow | undefined> {
  return db.selectFrom('stripe_events').selectAll().where('id', '=', id).executeTakeFirst();
}
