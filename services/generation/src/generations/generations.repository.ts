import { sql, type Db, type Kysely, type Transaction } from '@imlab/db';
import type { Insertable, Updateable } from 'kysely';
import type { DB, GenerationRow, GenerationStatus, GenerationTable } from '../db.js';
import { OPEN_STATUSES } from '../db.js';

export async function insertGeneration(db: Db<DB>, row: Insertable<GenerationTable>): Promise<GenerationRow> {
  return db.insertInto('generations').values(row).returningAll().executeTakeFirstOrThrow();
}

export async function findGeneration(db: Db<DB>, id: string): Promise<GenerationRow | undefined> {
  return db.selectFrom('generations').selectAll().where('id', '=', id).executeTakeFirst();
}

/**
 * The row once no transaction is changing it: FOR SHARE waits for a writer still holding it (a
 * commit whose answer was lost may still be in flight) and then reads what it committed.
 */
export async function findGenerationSettled(db: Kysely<DB>, id: string): Promise<GenerationRow | undefined> {
  return db.transaction().execute((tx) => tx.selectFrom('generations').selectAll().where('id', '=', id).forShare().executeTakeFirst());
}

export async function findOwnedGeneration(db: Db<DB>, id: string, userId: string): Promise<GenerationRow | undefined> {
  return db.selectFrom('generations').selectAll().where('id', '=', id).where('user_id', '=', userId).executeTakeFirst();
}

export async function findByIdempotencyKey(db: Db<DB>, userId: string, key: string): Promise<GenerationRow | undefined> {
  return db.selectFrom('generations').selectAll().where('user_id', '=', userId).where('idempotency_key', '=', key).executeTakeFirst();
}

/** Newest first; `before` is the id of the last row of the previous page (UUIDv7 sorts by time). */
export async function listGenerations(db: Db<DB>, userId: string, opts: { before?: string; limit: number }): Promise<GenerationRow[]> {
  let q = db.selectFrom('generations').selectAll().where('user_id', '=', userId);
  if (opts.before) q = q.where('id', '<', opts.before);
  return q.orderBy('id', 'desc').limit(opts.limit).execute();
}

export async function listAllForUser(db: Db<DB>, userId: string): Promise<GenerationRow[]> {
  return db.selectFrom('generations').selectAll().where('user_id', '=', userId).orderBy('id').execute();
}

/**
 * A conditional update from one of `from`: the updated row, or undefined when the row was not in
 * one of those states (someone else won). Called through lifecycle.ts#move, which owns the table
 * of moves and where each may start from.
 */
export async function transition(
  db: Db<DB>,
  id: string,
  from: GenerationStatus[],
  patch: Updateable<GenerationTable>,
  extra: { lease?: string } = {},
): Promise<GenerationRow | undefined> {
  let q = db
    .updateTable('generations')
    .set({ ...patch, updated_at: new Date() })
    .where('id', '=', id)
    .where('status', 'in', from);
  if (extra.lease) q = q.where('lease', '=', extra.lease);
  return q.returningAll().executeTakeFirst();
}

/**
 * Serialises claims of one person's renders (transaction-scoped advisory lock keyed by the user)
 * so that the per-user cap holds even when several workers pick that person's jobs at once.
 */
export async function lockUser(tx: Transaction<DB>, userId: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${userId}, 7))`.execute(tx);
}

/**
 * Marks up to `limit` minus the person's dispatched-and-unfinished generations of their queued,
 * undispatched ones as dispatched, oldest first, and returns them (the caller writes their render
 * messages in the same transaction). The caller holds the person's lock (lockUser).
 */
export async function markDispatched(tx: Transaction<DB>, userId: string, limit: number): Promise<Pick<GenerationRow, 'id' | 'user_id'>[]> {
  const inFlight = await tx
    .selectFrom('generations')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('status', 'in', ['queued', 'running'])
    .where('dispatched_at', 'is not', null)
    .executeTakeFirst();
  const free = limit - Number(inFlight?.n ?? 0);
  if (free <= 0) return [];
  // The ids first, then the update by primary key: as one `id in (subquery)` statement the planner
  // walked every waiting row of the person for each dispatch (1 s at 100,000 waiting, bench/backlog.ts).
  const next = await tx
    .selectFrom('generations')
    .select('id')
    .where('user_id', '=', userId)
    .where('status', '=', 'queued')
    .where('dispatched_at', 'is', null)
    .orderBy('queued_at')
    .orderBy('id')
    .limit(free)
    .execute();
  if (next.length === 0) return [];
  return tx
    .updateTable('generations')
    .set({ dispatched_at: new Date() })
    .where(
      'id',
      'in',
      next.map((r) => r.id),
    )
    // Still queued (a cancel may have won meanwhile); no other dispatch of this person runs under
    // the lock. (No `dispatched_at is null` here: it made the planner, without statistics, prefer
    // scanning the person's whole waiting index to the primary key.)
    .where('status', '=', 'queued')
    .returning(['id', 'user_id'])
    .execute();
}

/** People with queued generations waiting for a slot (the dispatch sweep's safety net). */
export async function usersWaitingForDispatch(db: Db<DB>, limit = 500): Promise<string[]> {
  const rows = await db.selectFrom('generations').select('user_id').distinct().where('status', '=', 'queued').where('dispatched_at', 'is', null).limit(limit).execute();
  return rows.map((r) => r.user_id);
}

export async function countRunning(db: Db<DB>, userId: string, exceptId: string): Promise<number> {
  const row = await db
    .selectFrom('generations')
    .select((eb) => eb.fn.countAll<string>().as('n'))
    .where('user_id', '=', userId)
    .where('status', '=', 'running')
    .where('id', '!=', exceptId)
    .executeTakeFirst();
  return Number(row?.n ?? 0);
}

/** Open generations whose hold has expired (the sweeper fails them). */
export async function lockExpiredOpen(tx: Transaction<DB>, now: Date, limit = 100): Promise<GenerationRow[]> {
  return tx
    .selectFrom('generations')
    .selectAll()
    .where('status', 'in', OPEN_STATUSES)
    .where('hold_expires_at', '<', now)
    .orderBy('hold_expires_at')
    .limit(limit)
    .forUpdate()
    .skipLocked()
    .execute();
}

export async function deleteGenerationsOfUser(db: Db<DB>, userId: string): Promise<number> {
  const res = await db.deleteFrom('generations').where('user_id', '=', userId).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** The claim move (lifecycle.ts MOVES.claim: queued, or running when an attempt is taken over → running) under a new lease, counting the attempt. */
export async function claim(tx: Transaction<DB>, id: string, lease: string, from: readonly GenerationStatus[]): Promise<GenerationRow | undefined> {
  return tx
    .updateTable('generations')
    .set((eb) => ({ status: 'running', lease, attempt: eb('attempt', '+', 1), started_at: new Date(), updated_at: new Date() }))
    .where('id', '=', id)
    .where('status', 'in', from)
    .returningAll()
    .executeTakeFirst();
}
