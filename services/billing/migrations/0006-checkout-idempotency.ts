import { sql, type Kysely } from 'kysely';

/**
 * POST /v1/billing/checkout honours an Idempotency-Key per person: the order keeps the key, a hash
 * of what was asked (a reused key with another request is refused) and the Checkout page's URL (a
 * replay answers exactly what the first request did). A purge clears the key with the person.
 * Frozen: never edit.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table orders add column idempotency_key text, add column request_hash text, add column checkout_url text`.execute(db);
  await sql`create unique index orders_user_idempotency_key on orders (user_id, idempotency_key) where idempotency_key is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index orders_user_idempotency_key`.execute(db);
  await sql`alter table orders drop column idempotency_key, drop column request_hash, drop column checkout_url`.execute(db);
}
