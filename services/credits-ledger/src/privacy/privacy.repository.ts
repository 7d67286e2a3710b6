import { sql, type Db, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';

export async function accountIdsOf(db: Db<DB>, userId: string): Promise<string[]> {
  const rows = await db.selectFrom('accounts').select('id').where('owner_id', '=', userId).execute();
  return rows.map((r) => r.id);
}

/** Re-keys a person's accounts to `anonymousId`: the balances stay, the link to the person goes. */
export async function rekeyAccounts(tx: Transaction<DB>, userId: string, anonymousId: string): Promise<number> {
  const res = await tx.updateTable('accounts').set({ owner_id: anonymousId, anonymized_at: new Date() }).where('owner_id', '=', userId).executeTakeFirst();
  return Number(res.numUpdatedRows);
}

/** References (generation ids, order ids, free text) may point back at the person: dropped. */
export async function scrubReferences(tx: Transaction<DB>, subjectIds: string[]): Promise<void> {
  if (subjectIds.length === 0) return;
  await tx.updateTable('transfers').set({ reference: null }).where('subject_id', 'in', subjectIds).where('reference', 'is not', null).execute();
  await tx.updateTable('holds').set({ reference: null, request_hash: null }).where('subject_id', 'in', subjectIds).execute();
  // The request hashes cover the user id: given the id, one could confirm which postings were theirs.
  await tx.updateTable('postings').set({ request_hash: 'scrubbed' }).where('subject_id', 'in', subjectIds).execute();
}

/**
 * Idempotency keys that embed the user id (`signup-bonus:<userId>`) would keep the link: they are
 * replaced by a hash of themselves, which still keeps each key unique.
 */
export async function scrubIdempotencyKeys(tx: Transaction<DB>, subjectIds: string[], userId: string): Promise<void> {
  if (subjectIds.length === 0) return;
  await tx
    .updateTable('postings')
    .set({ idempotency_key: sql<string>`'purged:' || encode(sha256(convert_to(idempotency_key, 'UTF8')), 'hex')` })
    .where('subject_id', 'in', subjectIds)
    .where(sql<number>`position(${userId} in idempotency_key)`, '>', 0)
    .execute();
}

/** Published messages we still keep in the outbox carry the user id in their payload. */
export async function deleteSentMessagesAbout(tx: Transaction<DB>, userId: string): Promise<void> {
  await tx
    .deleteFrom('outbox')
    .where('sent_at', 'is not', null)
    .where(sql<string>`payload->>'userId'`, '=', userId)
    .execute();
}
