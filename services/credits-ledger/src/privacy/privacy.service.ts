import { beginPurge, markPurged, type Kysely, type Transaction } from '@imlab/db';
import { forgetInGoodwill } from '../goodwill/goodwill.service.js';
import type { DB } from '../db.js';
import { lockSealing } from '../audit/audit.repository.js';
import { hashesAround } from '../audit/audit.service.js';
import { systemAccountIds } from '../ledger/ledger.repository.js';
import * as repo from './privacy.repository.js';
import { unlinkPools } from '../revenue/revenue.repository.js';
import { reopenDaysOf } from '../finance/totals.js';

export interface PurgeResult {
  /** The person's accounts deleted (0 on a repeated purge, or for someone who never had any). */
  accounts: number;
  /** Their transfers deleted, and the aggregate transfers that replace them on `erased`. */
  transfers: number;
  aggregates: number;
}

/**
 * `user.purge`: the person's transfers, holds, postings and accounts are deleted, and the books
 * still balance (docs/architecture.md, "The ledger's erasure"). The person's purge lock
 * (exclusive: grants and reserves for them wait, then see the tombstone) is held throughout; the
 * accounts are erased (eraseAccounts); published messages naming them are deleted, and a tombstone
 * (hash of the id) makes commands still in flight for them no-ops. Running it again finds no
 * accounts and changes nothing.
 */
export async function purgeUser(tx: Transaction<DB>, userId: string): Promise<PurgeResult> {
  await beginPurge(tx, userId);
  const acc = await repo.accountsOf(tx, userId);
  const result: PurgeResult = acc ? await eraseAccounts(tx, acc.heldId ? [acc.availableId, acc.heldId] : [acc.availableId]) : { accounts: 0, transfers: 0, aggregates: 0 };
  await repo.deleteSentMessagesAbout(tx, userId);
  await forgetInGoodwill(tx, userId);
  await markPurged(tx, userId);
  return result;
}

/**
 * Deletes one person's accounts with everything on them, the books still balanced:
 *
 * 1. the sealer's lock (no checkpoint is written meanwhile), then their holds and accounts (what a
 *    capture, release or expiry would lock, in the same order);
 * 2. for each of their transfers a checkpoint sealed, the chain hash before and after it is kept
 *    (`erased_transfer_hashes`), so `verify` still walks the chain; unsealed ones were never in it;
 * 3. aggregate transfers between `erased` and the other accounts, per calendar month and kind,
 *    replace theirs: every other account keeps its monthly debits and credits, and what they still
 *    had stays on `erased`;
 * 4. their transfers, holds, postings and accounts are deleted;
 * 5. the daily totals of the days their transfers and the aggregates are on are dropped (finance/totals.ts).
 */
export async function eraseAccounts(tx: Transaction<DB>, ids: string[]): Promise<PurgeResult> {
  if (ids.length === 0) return { accounts: 0, transfers: 0, aggregates: 0 };
  await lockSealing(tx);
  await repo.lockPerson(tx, ids);
  const { sealed } = await repo.transferPositions(tx, ids);
  await repo.keepErasedHashes(tx, await hashesAround(tx, sealed));
  // their days' totals no longer hold: dropped, to be rolled up again from the rewritten transfers
  await reopenDaysOf(tx, ids);
  const system = await systemAccountIds(tx);
  const aggregates = await repo.insertAggregates(tx, ids, system.erased);
  // Their revenue lots stay (unspent credits are still a liability), no longer linked to an account.
  await unlinkPools(tx, ids);
  const transfers = await repo.deletePerson(tx, ids);
  return { accounts: ids.length, transfers, aggregates };
}

/**
 * Accounts purged before erasure existed were re-keyed to a random owner and kept with their
 * transfers (`anonymized_at`). They are erased the same way, one person per transaction, `limit`
 * people per call (the background loop calls it until none is left). Returns how many were erased.
 */
export async function eraseAnonymizedAccounts(db: Kysely<DB>, limit = 20): Promise<number> {
  let erased = 0;
  for (; erased < limit; erased++) {
    // An idle run is one indexed query; it takes no lock the sealer would skip a run for.
    if (!(await repo.nextAnonymizedOwner(db))) break;
    const done = await db.transaction().execute(async (tx) => {
      // The sealer's lock first: erasures run one at a time, so two callers never pick the same owner.
      await lockSealing(tx);
      const owner = await repo.nextAnonymizedOwner(tx);
      if (!owner) return false;
      const ids = await repo.accountIdsOfOwner(tx, owner);
      await eraseAccounts(tx, ids);
      return true;
    });
    if (!done) break;
  }
  return erased;
}
