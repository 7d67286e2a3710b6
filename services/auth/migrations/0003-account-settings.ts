/* eslint-disable @typescript-eslint/no-explicit-any -- migrations are frozen and typed loosely on purpose */
import { sql, type Kysely } from 'kysely';

/**
 * Frozen: single-use tokens for the account settings. `email-change` (to the new address: confirms
 * it), `email-undo` (to the old address: takes the change back), `restore` (after a correct sign-in
 * to an account scheduled for deletion: keeps it). `email` is the address the token is about (the
 * new one, or the old one to go back to); it goes with the account's own row at the purge.
 */
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table email_tokens drop constraint email_tokens_purpose_check`.execute(db);
  await sql`alter table email_tokens add constraint email_tokens_purpose_check check (purpose in ('verify', 'reset', 'email-change', 'email-undo', 'restore'))`.execute(db);
  await sql`alter table email_tokens add column email text`.execute(db);
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`delete from email_tokens where purpose not in ('verify', 'reset')`.execute(db);
  await sql`alter table email_tokens drop column email`.execute(db);
  await sql`alter table email_tokens drop constraint email_tokens_purpose_check`.execute(db);
  await sql`alter table email_tokens add constraint email_tokens_purpose_check check (purpose in ('verify', 'reset'))`.execute(db);
}
