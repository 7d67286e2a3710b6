import { sql, type Kysely } from 'kysely';

/**
 * Stored objects whose rows are gone (a deleted image, an expired upload) are recorded in the
 * transaction that deletes the rows, deleted after it commits, and retried by the sweeper until
 * storage confirms: a storage failure used to leave objects nothing pointed to. The user id is
 * kept so a purge removes the person's records with their objects. Frozen: never edit, add a new
 * migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`
    create table storage_deletions (
      key text primary key,
      user_id uuid not null,
      requested_at timestamptz not null default now(),
      attempts integer not null default 0,
      next_attempt_at timestamptz not null default now()
    )`.execute(db);
  await sql`create index storage_deletions_due on storage_deletions (next_attempt_at)`.execute(db);
  await sql`create index storage_deletions_user on storage_deletions (user_id)`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table storage_deletions`.execute(db);
}
