import { sql, type Db, type Transaction } from '@imlab/db';
import type { Selectable } from 'kysely';
import type { AuditLogTable, DB } from '../db.js';

export type AuditRow = Selectable<AuditLogTable>;

/** Once per record id (a redelivered message adds nothing). */
export async function insertRecord(db: Db<DB>, row: Omit<AuditRow, 'recorded_at'>): Promise<boolean> {
  const res = await db
    .insertInto('audit_log')
    .values({ ...row, target_ids: JSON.stringify(row.target_ids) as never })
    .onConflict((oc) => oc.column('id').doNothing())
    .executeTakeFirst();
  return Number(res.numInsertedOrUpdatedRows ?? 0) > 0;
}

export interface AuditFilter {
  actorId?: string;
  targetUserId?: string;
  action?: string;
  before?: { at: Date; id: string };
}

/** Newest first; keyset on (at, id). */
export async function listRecords(db: Db<DB>, filter: AuditFilter, limit: number): Promise<AuditRow[]> {
  let q = db.selectFrom('audit_log').selectAll();
  if (filter.actorId) q = q.where('actor_id', '=', filter.actorId);
  if (filter.targetUserId) q = q.where('target_user_id', '=', filter.targetUserId);
  if (filter.action) q = q.where('action', '=', filter.action);
  if (filter.before) {
    const { at, id } = filter.before;
    q = q.where((eb) => eb.or([eb('at', '<', at), eb.and([eb('at', '=', at), eb('id', '<', id)])]));
  }
  return q.orderBy('at', 'desc').orderBy('id', 'desc').limit(limit).execute();
}

/** Everything that concerns one person (their export). */
export async function recordsAbout(db: Db<DB>, userId: string): Promise<AuditRow[]> {
  return db.selectFrom('audit_log').selectAll().where('target_user_id', '=', userId).orderBy('at', 'asc').execute();
}

/** The purge: the person's id leaves every record (the only change the table's trigger allows). */
export async function forgetPerson(tx: Transaction<DB>, userId: string): Promise<number> {
  const a = await tx.updateTable('audit_log').set({ target_user_id: null }).where('target_user_id', '=', userId).executeTakeFirst();
  const b = await tx.updateTable('audit_log').set({ actor_id: null }).where('actor_id', '=', userId).executeTakeFirst();
  return Number(a.numUpdatedRows) + Number(b.numUpdatedRows);
}

export async function userExists(db: Db<DB>, userId: string): Promise<boolean> {
  return (await db.selectFrom('users').select(sql<number>`1`.as('one')).where('id', '=', userId).executeTakeFirst()) !== undefined;
}
