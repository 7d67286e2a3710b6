import { sql, type Db, type Transaction } from '@imlab/db';
import type { Selectable } from 'kysely';
import type { Role } from '@imlab/contracts';
import type { DB, EmailTokenPurpose, UserTable } from '../db.js';

export type UserRow = Selectable<UserTable>;

export async function findUserByEmail(db: Db<DB>, email: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('email', '=', email).executeTakeFirst();
}

export async function findUserById(db: Db<DB>, id: string): Promise<UserRow | undefined> {
  return db.selectFrom('users').selectAll().where('id', '=', id).executeTakeFirst();
}

export async function lockUser(tx: Transaction<DB>, id: string): Promise<UserRow | undefined> {
  return tx.selectFrom('users').selectAll().where('id', '=', id).forUpdate().executeTakeFirst();
}

/** Inserts unless the email is taken; returns the new row or undefined. */
export async function insertUserIfNew(
  db: Db<DB>,
  user: { id: string; email: string; passwordHash: string | null; displayName: string; locale: 'en' | 'zh'; signupIpHash: string | null; verified: boolean },
): Promise<UserRow | undefined> {
  return db
    .insertInto('users')
    .values({
      id: user.id,
      email: user.email,
      password_hash: user.passwordHash,
      display_name: user.displayName,
      locale: user.locale,
      signup_ip_hash: user.signupIpHash,
      email_verified_at: user.verified ? new Date() : null,
    })
    .onConflict((oc) => oc.column('email').doNothing())
    .returningAll()
    .executeTakeFirst();
}

export async function markEmailVerified(db: Db<DB>, id: string): Promise<void> {
  await db
    .updateTable('users')
    .set({ email_verified_at: sql<Date>`coalesce(email_verified_at, now())`, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .execute();
}

export async function setPasswordHash(db: Db<DB>, id: string, passwordHash: string | null): Promise<void> {
  await db.updateTable('users').set({ password_hash: passwordHash, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
}

export async function updateProfile(db: Db<DB>, id: string, patch: { displayName?: string; locale?: 'en' | 'zh' }): Promise<UserRow | undefined> {
  return db
    .updateTable('users')
    .set({
      ...(patch.displayName !== undefined ? { display_name: patch.displayName } : {}),
      ...(patch.locale !== undefined ? { locale: patch.locale } : {}),
      updated_at: sql<Date>`now()`,
    })
    .where('id', '=', id)
    .where('status', '=', 'active')
    .returningAll()
    .executeTakeFirst();
}

export async function setRoles(db: Db<DB>, id: string, roles: Role[]): Promise<boolean> {
  const r = await db.updateTable('users').set({ roles, updated_at: sql<Date>`now()` }).where('id', '=', id).executeTakeFirst();
  return Number(r.numUpdatedRows) > 0;
}

export async function markDeleted(db: Db<DB>, id: string, purgeAfter: Date): Promise<void> {
  await db.updateTable('users').set({ status: 'deleted', purge_after: purgeAfter, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
}

/** Claims one account whose purge is due (SKIP LOCKED: several instances may sweep). */
export async function claimDuePurge(tx: Transaction<DB>): Promise<UserRow | undefined> {
  return tx
    .selectFrom('users')
    .selectAll()
    .where('status', '=', 'deleted')
    .where('purge_after', '<=', sql<Date>`now()`)
    .orderBy('purge_after')
    .limit(1)
    .forUpdate()
    .skipLocked()
    .executeTakeFirst();
}

/** Keeps an account scheduled for deletion whose purge has not started (the row still exists and is not claimed). */
export async function restoreDeleted(tx: Transaction<DB>, id: string): Promise<UserRow | undefined> {
  return tx
    .updateTable('users')
    .set({ status: 'active', purge_after: null, updated_at: sql<Date>`now()` })
    .where('id', '=', id)
    .where('status', '=', 'deleted')
    .where('purge_after', '>', sql<Date>`now()`)
    .returningAll()
    .executeTakeFirst();
}

/** A new sign-in address, verified by the link that confirmed it. False: another account has it. */
export async function setEmail(tx: Transaction<DB>, id: string, email: string): Promise<boolean> {
  const taken = await tx.selectFrom('users').select('id').where('email', '=', email).where('id', '!=', id).executeTakeFirst();
  if (taken) return false;
  await tx.updateTable('users').set({ email, email_verified_at: sql<Date>`now()`, updated_at: sql<Date>`now()` }).where('id', '=', id).execute();
  return true;
}

export async function deleteUser(db: Db<DB>, id: string): Promise<void> {
  await db.deleteFrom('users').where('id', '=', id).execute();
}

// ---- single-use email tokens -------------------------------------------------------------

export async function insertEmailToken(db: Db<DB>, t: { id: string; userId: string; purpose: EmailTokenPurpose; tokenHash: string; expiresAt: Date; email?: string }): Promise<void> {
  await db.insertInto('email_tokens').values({ id: t.id, user_id: t.userId, purpose: t.purpose, token_hash: t.tokenHash, expires_at: t.expiresAt, email: t.email ?? null }).execute();
}

/** An unused, unexpired token's account and address, without using it (a link's page shows what it will do). */
export async function peekEmailToken(db: Db<DB>, purpose: EmailTokenPurpose, tokenHash: string): Promise<{ userId: string; email: string | null } | undefined> {
  const row = await db
    .selectFrom('email_tokens')
    .select(['user_id', 'email'])
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .executeTakeFirst();
  return row ? { userId: row.user_id, email: row.email } : undefined;
}

/** Marks the token used if it is unused and unexpired; one statement, so two racing uses cannot both win. */
export async function consumeEmailToken(db: Db<DB>, purpose: EmailTokenPurpose, tokenHash: string): Promise<{ userId: string; email: string | null; createdAt: Date } | undefined> {
  const row = await db
    .updateTable('email_tokens')
    .set({ used_at: sql<Date>`now()` })
    .where('token_hash', '=', tokenHash)
    .where('purpose', '=', purpose)
    .where('used_at', 'is', null)
    .where('expires_at', '>', sql<Date>`now()`)
    .returning(['user_id', 'email', 'created_at'])
    .executeTakeFirst();
  return row ? { userId: row.user_id, email: row.email, createdAt: row.created_at } : undefined;
}

/** Voids every outstanding token of a purpose (a new one was issued, or the password changed). */
export async function voidEmailTokens(db: Db<DB>, userId: string, purpose: EmailTokenPurpose): Promise<void> {
  await db.updateTable('email_tokens').set({ used_at: sql<Date>`now()` }).where('user_id', '=', userId).where('purpose', '=', purpose).where('used_at', 'is', null).execute();
}

// ---- sign-up bonus --------------------------------------------------------------------------

/** Serialises bonus decisions per IP hash for the rest of the transaction. */
export async function lockIpHash(tx: Transaction<DB>, ipHash: string): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtextextended(${`bonus:${ipHash}`}, 0))`.execute(tx);
}

export async function bonusClaimedSince(db: Db<DB>, ipHash: string, since: Date): Promise<boolean> {
  const row = await db.selectFrom('signup_bonus_claims').select('id').where('ip_hash', '=', ipHash).where('granted_at', '>', since).limit(1).executeTakeFirst();
  return row !== undefined;
}

export async function bonusClaimedByUser(db: Db<DB>, userId: string): Promise<boolean> {
  const row = await db.selectFrom('signup_bonus_claims').select('id').where('user_id', '=', userId).executeTakeFirst();
  return row !== undefined;
}

export async function insertBonusClaim(db: Db<DB>, c: { id: string; ipHash: string; userId: string }): Promise<void> {
  await db.insertInto('signup_bonus_claims').values({ id: c.id, ip_hash: c.ipHash, user_id: c.userId }).execute();
}

/**
 * Claims past the window decide nothing any more (the ledger's grant key keeps an account from a
 * second bonus): deleted, so no IP hash and claim time stay beside the anonymised credit history.
 */
export async function deleteBonusClaimsBefore(db: Db<DB>, before: Date): Promise<number> {
  const res = await db.deleteFrom('signup_bonus_claims').where('granted_at', '<', before).executeTakeFirst();
  return Number(res.numDeletedRows);
}

/** After a purge the claim keeps only the IP hash, so the abuse window still holds without the person. */
export async function unlinkBonusClaims(db: Db<DB>, userId: string): Promise<void> {
  await db.updateTable('signup_bonus_claims').set({ user_id: null }).where('user_id', '=', userId).execute();
}

// ---- Google identities ----------------------------------------------------------------------

export async function findIdentity(db: Db<DB>, issuer: string, subject: string): Promise<{ userId: string } | undefined> {
  const row = await db.selectFrom('identities').select('user_id').where('issuer', '=', issuer).where('subject', '=', subject).executeTakeFirst();
  return row ? { userId: row.user_id } : undefined;
}

export async function insertIdentity(db: Db<DB>, i: { issuer: string; subject: string; userId: string }): Promise<void> {
  await db.insertInto('identities').values({ issuer: i.issuer, subject: i.subject, user_id: i.userId }).execute();
}

export async function hasIdentity(db: Db<DB>, userId: string): Promise<boolean> {
  return Boolean(await db.selectFrom('identities').select('user_id').where('user_id', '=', userId).executeTakeFirst());
}

export async function listIdentities(db: Db<DB>, userId: string): Promise<{ issuer: string; subject: string }[]> {
  return db.selectFrom('identities').select(['issuer', 'subject']).where('user_id', '=', userId).execute();
}

export async function deleteIdentities(db: Db<DB>, userId: string, where: { issuer?: string; since?: Date } = {}): Promise<number> {
  let q = db.deleteFrom('identities').where('user_id', '=', userId);
  if (where.issuer) q = q.where('issuer', '=', where.issuer);
  if (where.since) q = q.where('created_at', '>=', where.since);
  return Number((await q.executeTakeFirst()).numDeletedRows);
}
