import { sql, type Kysely } from 'kysely';

/**
 * Fair dispatch (#22 b): a queued generation's render job is put on the queue only while its
 * person has fewer than RENDER_USER_QUEUED dispatched and unfinished generations; the rest wait
 * here, undispatched, and go out oldest first as that person's earlier ones end. `dispatched_at`
 * says when its render message was written. Generations queued or running before this migration
 * already have their job on the queue: they count as dispatched. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table generations add column dispatched_at timestamptz`.execute(db);
  await sql`update generations set dispatched_at = coalesce(queued_at, updated_at) where status in ('queued', 'running')`.execute(db);
  // A person's jobs on the queue (counted under their lock at every dispatch)…
  await sql`create index generations_dispatched on generations (user_id) where status in ('queued', 'running') and dispatched_at is not null`.execute(db);
  // …and what waits for a slot, oldest first (also the sweep's list of people to look at).
  await sql`create index generations_undispatched on generations (user_id, queued_at, id) where status = 'queued' and dispatched_at is null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop index generations_undispatched`.execute(db);
  await sql`drop index generations_dispatched`.execute(db);
  await sql`alter table generations drop column dispatched_at`.execute(db);
}
