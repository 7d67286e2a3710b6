import { randomUUID } from 'node:crypto';
import { beginPurge, markPurged, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import * as repo from './privacy.repository.js';

/**
 * `user.purge`: the books must still balance, so transfers stay; what goes is every link to the
 * person. The accounts get a random owner id nobody knows, references and request hashes are
 * dropped, and published messages naming the user are deleted. A tombstone (hash of the id) makes
 * commands still in flight for them no-ops instead of opening new accounts under their id.
 */
export async function purgeUser(tx: Transaction<DB>, userId: string): Promise<{ accounts: number }> {
  await beginPurge(tx, userId);
  const ids = await repo.accountIdsOf(tx, userId);
  await repo.scrubReferences(tx, ids);
  await repo.scrubIdempotencyKeys(tx, ids, userId);
  const accounts = await repo.rekeyAccounts(tx, userId, randomUUID());
  await repo.deleteSentMessagesAbout(tx, userId);
  await markPurged(tx, userId);
  return { accounts };
}
