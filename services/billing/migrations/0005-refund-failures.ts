import { sql, type Kysely } from 'kysely';

/**
 * Set when a refund of the order failed or was canceled at Stripe: from then on the order's
 * refunded amount is read from Stripe's list of the payment's refunds (a failed refund no longer
 * counts) instead of being the largest cumulative amount a charge.refunded event reported.
 * Frozen: never edit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders add column refund_failed_at timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders drop column refund_failed_at`.execute(db);
}
