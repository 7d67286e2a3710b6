import { sql, type Kysely } from 'kysely';

/**
 * user.registered and user.updated can be applied out of order (several inbox workers, retries):
 * a profile row now remembers the occurredAt of the event it came from and ignores older ones.
 * A purge leaves a tombstone (SHA-256 of the id) so a late profile event cannot bring the display
 * name back. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table user_profiles add column source_at timestamptz not null default '-infinity'`.execute(db);
  await sql`create table purged_user_hashes (user_hash text primary key, purged_at timestamptz not null default now())`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table purged_user_hashes`.execute(db);
  await sql`alter table user_profiles drop column source_at`.execute(db);
}
