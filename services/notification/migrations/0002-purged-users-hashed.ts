import { sql, type Kysely } from 'kysely';

/**
 * The purge tombstone kept the user id itself; after a purge nothing may name the person, so it
 * keeps a SHA-256 of the id instead (enough to refuse a late user.updated for that id).
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`create table purged_user_hashes (user_hash text primary key, purged_at timestamptz not null default now())`.execute(db);
  await sql`
    insert into purged_user_hashes (user_hash, purged_at)
    select encode(sha256(convert_to(user_id::text, 'UTF8')), 'hex'), purged_at from purged_users`.execute(db);
  await sql`drop table purged_users`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`create table purged_users (user_id uuid primary key, purged_at timestamptz not null default now())`.execute(db);
  await sql`drop table purged_user_hashes`.execute(db);
}
