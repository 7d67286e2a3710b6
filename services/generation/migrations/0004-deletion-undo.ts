/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely on purpose */
import { sql, type Kysely } from 'kysely';

/**
 * Frozen: an image a deletion request took off the gallery remembers when it had been published,
 * so keeping the account (the request undone in its grace period) puts it back as it was.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table images add column withdrawn_published_at timestamptz`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`alter table images drop column withdrawn_published_at`.execute(db);
}
