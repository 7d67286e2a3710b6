import { sql, type Kysely } from 'kysely';

/**
 * Goodwill grants answer a repeated request (same admin, same Idempotency-Key) with the first
 * grant instead of granting again: the row keeps the grant's audit id and a hash of what was asked
 * (recipient, amount, reason), so a replay answers the same and the same key with another request
 * is refused. Rows from before have neither (their keys were random, never repeated).
 *
 * Frozen: never edit once shipped, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table goodwill_grants add column audit_id uuid, add column request_hash text`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`alter table goodwill_grants drop column audit_id, drop column request_hash`.execute(db);
}
