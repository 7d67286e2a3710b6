import { sql, type Kysely } from 'kysely';

/**
 * An order can be paid after its owner's account was purged (a bank debit that settles days later,
 * a checkout tab left open): there is nobody to credit, so billing refunds it at Stripe, once.
 * Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders add column auto_refund_requested_at timestamptz`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders drop column auto_refund_requested_at`.execute(db);
}
