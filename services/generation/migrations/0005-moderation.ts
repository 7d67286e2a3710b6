import { sql, type Kysely } from 'kysely';

/**
 * Reports and review (issue #20). An image reported by enough distinct people is hidden from the
 * gallery (`hidden_at`) until a moderator reviews it; a takedown unpublishes it for good
 * (`taken_down_at`, with the rule) until restored. A report's `reporter_key` is `u:<user id>` for
 * a signed-in reporter or `a:<ip hash>` for a signed-out one (the gateway's HMAC, never an
 * address): one report per reporter per image. A purge rewrites the reporter's keys to a
 * meaningless `x:<report id>`; reports go with their image. Frozen: never edit, add a new migration.
 */
export async function up(db: Kysely<unknown>): Promise<void> {
  await sql`alter table images add column hidden_at timestamptz, add column taken_down_at timestamptz, add column takedown_rule text`.execute(db);
  await sql`
    create table image_reports (
      id uuid primary key,
      image_id uuid not null references images (id) on delete cascade,
      reporter_key text not null,
      reason text not null,
      note text,
      created_at timestamptz not null default now(),
      resolved_at timestamptz,
      resolution text check (resolution in ('dismissed', 'taken-down')),
      unique (image_id, reporter_key)
    )`.execute(db);
  await sql`create index image_reports_open on image_reports (image_id) where resolved_at is null`.execute(db);
  await sql`create index image_reports_reporter on image_reports (reporter_key)`.execute(db);
  await sql`create index images_taken_down on images (taken_down_at desc) where taken_down_at is not null`.execute(db);
}

export async function down(db: Kysely<unknown>): Promise<void> {
  await sql`drop table image_reports`.execute(db);
  await sql`alter table images drop column hidden_at, drop column taken_down_at, drop column takedown_rule`.execute(db);
}
