import { sql, type Db } from '@imlab/db';
import type { Selectable } from 'kysely';
import type { Locale, Role } from '@imlab/contracts';
import type { DB, SessionTable } from '../db.js';

export type SessionRow = Selectable<SessionTable>;

export async function insertSession(db: Db<DB>, s: { id: string; userId: string; tokenHash: string; device: string; expiresAt: Date }): Promise<void> {
  await db.insertInto('sessions').values({ id: s.id, user_id: s.userId, token_hash: s.tokenHash, device: s.device, expires_at: s.expiresAt }).execute();
}

/** A live session with its active owner, by token hash. Idle expiry is checked by the caller. */
export async function findLiveSessionByHash(
  db: Db<DB>,
  tokenHash: string,
): Promise<{ id: string; userId: string; roles: Role[]; locale: Locale; expiresAt: Date; lastSeenAt: Date } | undefined> {
  const row = await db
    .selectFrom('sessions')
    .innerJoin('users', 'users.id', 'sessions.user_id')
    .select(['sessions.id', 'sessions.user_id', 'users.roles', 'users.locale', 'sessions.expires_at', 'sessions.last_seen_at'])
    .where('sessions.token_hash', '=', tokenHash)
    .where('sessions.revoked_at', 'is', null)
    .where('sessions.expires_at', '>', sql<Date>`now()`)
    .where('users.status', '=', 'active')
    .executeTakeFirst();
  return row ? { id: row.id, userId: row.user_id, roles: row.roles, locale: row.locale, expiresAt: row.expires_at, lastSeenAt: row.last_seen_at } : undefined;
}

export async function findLiveSessionById(db: Db<DB>, id: string): Promise<SessionRow | undefined> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('id', '=', id)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
}

export async function touchSession(db: Db<DB>, id: string): Promise<void> {
  await db.updateTable('sessions').set({ last_seen_at: sql<Date>`now()` }).where('id', '=', id).where('revoked_at', 'is', null).execute();
}

export async function listLiveSessions(db: Db<DB>, userId: string): Promise<SessionRow[]> {
  return db
    .selectFrom('sessions')
    .selectAll()
    .where('user_id', '=', userId)
    .where('revoked_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .orderBy('created_at', 'desc')
    .execute();
}

/** What revoking ended: the session ids (marked revoked for services) and token hashes (cache entries dropped). */
export interface Revoked {
  id: string;
  tokenHash: string;
}

/** Revokes and returns what it ended, so cache entries can be dropped and services told. */
export async function revokeSessions(db: Db<DB>, where: { userId: string; sessionId?: string; tokenHash?: string; exceptSessionId?: string }): Promise<Revoked[]> {
  let q = db.updateTable('sessions').set({ revoked_at: sql<Date>`now()` }).where('user_id', '=', where.userId).where('revoked_at', 'is', null);
  if (where.sessionId) q = q.where('id', '=', where.sessionId);
  if (where.exceptSessionId) q = q.where('id', '!=', where.exceptSessionId);
  if (where.tokenHash) q = q.where('token_hash', '=', where.tokenHash);
  const rows = await q.returning(['id', 'token_hash']).execute();
  return rows.map((r) => ({ id: r.id, tokenHash: r.token_hash }));
}

export async function revokeSessionByHash(db: Db<DB>, tokenHash: string): Promise<Revoked[]> {
  const rows = await db.updateTable('sessions').set({ revoked_at: sql<Date>`now()` }).where('token_hash', '=', tokenHash).where('revoked_at', 'is', null).returning(['id', 'token_hash']).execute();
  return rows.map((r) => ({ id: r.id, tokenHash: r.token_hash }));
}

/** Every token hash of a user, revoked or not (cache entries may outlive revocation by a race). */
export async function tokenHashesOf(db: Db<DB>, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('sessions').select('token_hash').where('user_id', '=', userId).execute();
  return rows.map((r) => r.token_hash);
}
