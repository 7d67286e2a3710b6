import { beginPurge, markPurged, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import { lockSealing } from '../audit/audit.repository.js';
import { hashesAround } from '../audit/audit.service.js';
import { systemAccountIds } from '../ledger/ledger.repository.js';
import * as repo from './privacy.repository.js';

export interface PurgeResult {
  /** The person's accounts deleted (0 on a repeated purge, or for someone who never had any). */
  accounts: number;
  /** Their transfers deleted, and the aggregate transfers that replace them on `erased`. */
  transfers: number;
  aggregates: number;
}

/**
 * `user.purge`: the person's transfers, holds, postings and accounts are deleted, and the books
 * still balance (docs/architecture.md, "The ledger's erasure"):
 *
 * 1. the person's purge lock (exclusive: grants and reserves for them wait, then see the tombstone),
 *    the sealer's lock (no checkpoint is written meanwhile), then their holds and accounts (what a
 *    capture, release or expiry would lock, in the same order);
 * 2. for each of their transfers a checkpoint sealed, the chain hash before and after it is kept
 *    (`erased_transfer_hashes`), so `verify` still walks the chain; unsealed ones were never in it;
 * 3. aggregate transfers between `erased` and the other accounts, per calendar month and kind,
 *    replace theirs: every other account keeps its monthly debits and credits, and what they still
 *    had stays on `erased`;
 * 4. their rows are deleted, published messages naming them too, and a tombstone (hash of the id)
 *    makes commands still in flight for them no-ops.
 *
 * Running it again finds no accounts and changes nothing.
 */
export async function purgeUser(tx: Transaction<DB>, userId: string): Promise<PurgeResult> {
  await beginPurge(tx, userId);
  const result: PurgeResult = { accounts: 0, transfers: 0, aggregates: 0 };
  const acc = await repo.accountsOf(tx, userId);
  if (acc) {
    const ids = acc.heldId ? [acc.availableId, acc.heldId] : [acc.availableId];
    await lockSealing(tx);
    await repo.lockPerson(tx, ids);
    const { sealed } = await repo.transferPositions(tx, ids);
    await repo.keepErasedHashes(tx, await hashesAround(tx, sealed));
    const system = await systemAccountIds(tx);
    result.aggregates = await repo.insertAggregates(tx, ids, system.erased);
    result.transfers = await repo.deletePerson(tx, ids);
    result.accounts = ids.length;
  }
  await repo.deleteSentMessagesAbout(tx, userId);
  await markPurged(tx, userId);
  return result;
}
