import { sql, type Db } from '@imlab/db';
import type { Selectable } from 'kysely';
import type { DB, ExportTable } from '../db.js';

export type ExportRow = Selectable<ExportTable>;

export async function insertExport(db: Db<DB>, e: { id: string; userId: string }): Promise<ExportRow> {
  return db.insertInto('exports').values({ id: e.id, user_id: e.userId }).returningAll().executeTakeFirstOrThrow();
}

export async function findOpenExport(db: Db<DB>, userId: string): Promise<ExportRow | undefined> {
  return db.selectFrom('exports').selectAll().where('user_id', '=', userId).where('status', 'in', ['pending', 'running']).executeTakeFirst();
}

export async function findExport(db: Db<DB>, userId: string, id: string): Promise<ExportRow | undefined> {
  return db.selectFrom('exports').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

/**
 * Takes one pending export whose retry time has come (lease_until doubles as "not before" for
 * pending rows), or a running one whose worker's lease ran out (it crashed), with a new lease.
 */
export async function claimExport(db: Db<DB>, leaseSeconds: number): Promise<ExportRow | undefined> {
  return db
    .updateTable('exports')
    .set({ status: 'running', attempts: sql<number>`attempts + 1`, lease_until: sql<Date>`now() + make_interval(secs => ${leaseSeconds})` })
    .where(
      'id',
      '=',
      sql<string>`(select id from exports where status in ('pending', 'running') and (lease_until is null or lease_until < now()) order by created_at limit 1 for update skip locked)`,
    )
    .returningAll()
    .executeTakeFirst();
}

export async function markExportReady(db: Db<DB>, id: string, fileName: string, expiresAt: Date): Promise<void> {
  await db
    .updateTable('exports')
    .set({ status: 'ready', file_name: fileName, completed_at: sql<Date>`now()`, expires_at: expiresAt, lease_until: null, error: null })
    .where('id', '=', id)
    .execute();
}

export async function markExportRetry(db: Db<DB>, id: string, error: string, retryInSeconds: number | null): Promise<void> {
  const failed = retryInSeconds === null;
  await db
    .updateTable('exports')
    .set({
      status: failed ? 'failed' : 'pending',
      error,
      lease_until: failed ? null : sql<Date>`now() + make_interval(secs => ${retryInSeconds})`,
      ...(failed ? { completed_at: sql<Date>`now()`, expires_at: sql<Date>`now() + interval '1 day'` } : {}),
    })
    .where('id', '=', id)
    .execute();
}

export async function takeExpiredExports(db: Db<DB>): Promise<{ id: string; file_name: string | null }[]> {
  return db.deleteFrom('exports').where('status', 'in', ['ready', 'failed']).where('expires_at', '<', sql<Date>`now()`).returning(['id', 'file_name']).execute();
}

/** Which of these file names belong to a ready export. */
export async function readyExportFiles(db: Db<DB>, fileNames: string[]): Promise<string[]> {
  if (fileNames.length === 0) return [];
  const rows = await db.selectFrom('exports').select('file_name').where('status', '=', 'ready').where('file_name', 'in', fileNames).execute();
  return rows.map((r) => r.file_name!);
}

export async function exportFilesOf(db: Db<DB>, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('exports').select('file_name').where('user_id', '=', userId).where('file_name', 'is not', null).execute();
  return rows.map((r) => r.file_name!);
}

/**
 * Sent outbox rows keep their payloads; a purge removes the ones that name the person
 * (registration, profile updates, emails to them) so no address or name outlives the account.
 */
export async function scrubSentOutbox(db: Db<DB>, userId: string, email: string): Promise<void> {
  await db
    .deleteFrom('outbox')
    .where('sent_at', 'is not', null)
    .where((eb) => eb.or([eb(sql`payload->>'userId'`, '=', userId), eb(sql`payload->>'to'`, '=', email)]))
    .execute();
}
