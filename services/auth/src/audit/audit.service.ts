import type { Db, Kysely, Transaction } from '@imlab/db';
import { AppError } from '@imlab/http';
import { UUID_RE, type AuditAction, type AuditRecord } from '@imlab/contracts';
import type { DB } from '../db.js';
import * as repo from './audit.repository.js';

/**
 * Auth keeps the audit log for every service: each sends `audit.record` in the transaction of its
 * action, so a record exists exactly when its action committed; auth's own actions insert in
 * theirs. A record that arrives after its actor's or target's purge (a late delivery) is stored
 * without that id: a purged person is never named again.
 */
export async function record(db: Db<DB>, r: AuditRecord): Promise<{ recorded: boolean }> {
  const known = async (id: string | undefined) => (id !== undefined && (await repo.userExists(db, id)) ? id : null);
  const recorded = await repo.insertRecord(db, {
    id: r.id,
    at: new Date(r.at),
    service: r.service,
    actor_id: await known(r.actorId),
    action: r.action,
    target_user_id: await known(r.targetUserId),
    target_ids: r.targetIds,
    reason: r.reason,
  });
  return { recorded };
}

export const view = (r: repo.AuditRow) => ({
  id: r.id,
  at: r.at.toISOString(),
  service: r.service,
  actorId: r.actor_id,
  action: r.action as AuditAction,
  targetUserId: r.target_user_id,
  targetIds: r.target_ids,
  reason: r.reason,
});

function decodeCursor(cursor: string): { at: Date; id: string } {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const date = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/.test(at ?? '') ? new Date(at!) : new Date(Number.NaN);
  if (!id || !UUID_RE.test(id) || Number.isNaN(date.getTime())) throw new AppError('INVALID_CURSOR');
  return { at: date, id };
}

export async function list(db: Kysely<DB>, q: { actorId?: string; targetUserId?: string; action?: string; cursor?: string; limit: number }) {
  const rows = await repo.listRecords(
    db,
    {
      ...(q.actorId ? { actorId: q.actorId } : {}),
      ...(q.targetUserId ? { targetUserId: q.targetUserId } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(q.cursor ? { before: decodeCursor(q.cursor) } : {}),
    },
    q.limit + 1,
  );
  const page = rows.slice(0, q.limit);
  const last = page[page.length - 1];
  return { items: page.map(view), nextCursor: rows.length > q.limit && last ? Buffer.from(`${last.at.toISOString()}|${last.id}`).toString('base64url') : null };
}

/** What the log says about a person, for their own export (the actors stay ids: staff, not them). */
export async function exportFor(db: Kysely<DB>, userId: string) {
  return (await repo.recordsAbout(db, userId)).map(view);
}

export async function forgetPerson(tx: Transaction<DB>, userId: string): Promise<number> {
  return repo.forgetPerson(tx, userId);
}
