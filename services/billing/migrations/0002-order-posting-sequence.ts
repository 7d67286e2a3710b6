import { sql, type Kysely } from 'kysely';

// Frozen: never import application code here; add a new migration instead of editing this one.
// Postings recorded in one transaction share created_at (now() is the transaction's start), so the
// order they were sent in needs its own column: each ledger command names the one before it.
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table order_postings add column seq bigint generated always as identity`.execute(db);
  await sql`create index order_postings_order_seq on order_postings (order_id, seq)`.execute(db);
  await sql`drop index order_postings_order`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create index order_postings_order on order_postings (order_id)`.execute(db);
  await sql`drop index order_postings_order_seq`.execute(db);
  await sql`alter table order_postings drop column seq`.execute(db);
}
