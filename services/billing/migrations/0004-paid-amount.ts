import { sql, type Kysely } from 'kysely';

/**
 * What Stripe reports as paid (amount_total, currency) next to the order's own price, so a
 * difference shows in reconciliation instead of only in a log line. Frozen: never edit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders add column paid_amount bigint, add column paid_currency text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders drop column paid_amount, drop column paid_currency`.execute(db);
}
