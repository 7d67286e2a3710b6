/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely on purpose */
import { sql, type Kysely } from 'kysely';

/**
 * Frozen: one receipt per purged account, under a random deletion id that names nobody. Each
 * service's part is recorded when it reports done; the address for the final email is kept,
 * sealed, only until that email is sent.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`
    create table deletion_receipts (
      id uuid primary key,
      due_at timestamptz not null,
      purged_at timestamptz not null default now(),
      parts_done jsonb not null default '{}'::jsonb,
      email_sealed text,
      email_locale text not null default 'en' check (email_locale in ('en', 'zh')),
      completed_at timestamptz,
      email_sent_at timestamptz
    )`.execute(db);
  await sql`create index deletion_receipts_open on deletion_receipts (purged_at) where completed_at is null`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop table deletion_receipts`.execute(db);
}
