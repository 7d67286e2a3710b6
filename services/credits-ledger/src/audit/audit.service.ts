import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import * as repo from './audit.repository.js';

export const GENESIS_HASH = '0'.repeat(64);

/** h(n) = sha256(h(n-1) + canonical(transfer n)). */
export function chainHash(prev: string, t: repo.ChainRow): string {
  const canonical = [t.id, t.xid, t.debit_account_id, t.credit_account_id, t.amount, t.kind, t.subject_id ?? '', t.posting_id ?? '', t.hold_id ?? '', t.created_at].join('|');
  return createHash('sha256').update(prev).update('\n').update(canonical).digest('hex');
}

function sealOf(secret: string, c: { lastXid: string; lastTransferId: number; count: number; prevHash: string; hash: string }): string {
  return createHmac('sha256', secret).update([c.lastXid, c.lastTransferId, c.count, c.prevHash, c.hash].join('|')).digest('hex');
}

/**
 * Seals the next run of final transfers into a checkpoint. Runs in REPEATABLE READ so the xmin
 * horizon and the rows read are one snapshot; takes no lock a writer could wait on.
 * Returns the number of transfers sealed (0 when nothing was final or another sealer runs).
 */
export async function sealOnce(db: Kysely<DB>, secret: string, batch = 20_000): Promise<number> {
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (tx) => {
      if (!(await repo.trySealLock(tx))) return 0;
      const last = await repo.lastCheckpoint(tx);
      const from = last ? { xid: last.last_xid, id: last.last_transfer_id } : repo.CHAIN_START;
      const rows = await repo.unsealedTransfers(tx, from, batch);
      if (rows.length === 0) return 0;
      const prevHash = last?.hash ?? GENESIS_HASH;
      let hash = prevHash;
      for (const t of rows) hash = chainHash(hash, t);
      const end = rows[rows.length - 1]!;
      const c = { lastXid: end.xid, lastTransferId: end.id, count: rows.length, prevHash, hash };
      await repo.insertCheckpoint(tx, { ...c, seal: sealOf(secret, c) });
      return rows.length;
    });
}

/** Seals until nothing final is left (the background loop and tests call this). */
export async function sealAll(db: Kysely<DB>, secret: string): Promise<number> {
  let total = 0;
  for (;;) {
    const n = await sealOnce(db, secret);
    total += n;
    if (n === 0) return total;
  }
}

export interface Mismatch {
  checkpointId: number;
  reason: 'seal' | 'link' | 'count' | 'hash';
  firstTransferId: number | null;
  lastTransferId: number;
  expected: string;
  actual: string;
}

export interface VerifyReport {
  ok: boolean;
  checkpoints: number;
  sealedTransfers: number;
  unsealedTransfers: number;
  firstMismatch: Mismatch | null;
  verifiedAt: string;
}

const same = (a: string, b: string) => a.length === b.length && timingSafeEqual(Buffer.from(a), Buffer.from(b));

/** Recomputes every checkpoint from the transfers it covers and reports the first that disagrees. */
export async function verify(db: Kysely<DB>, secret: string): Promise<VerifyReport> {
  const checkpoints = await repo.listCheckpoints(db);
  let prevHash = GENESIS_HASH;
  let from: repo.ChainPosition = repo.CHAIN_START;
  let sealed = 0;
  let firstMismatch: Mismatch | null = null;
  for (const cp of checkpoints) {
    const to = { xid: cp.last_xid, id: cp.last_transfer_id };
    const fail = (reason: Mismatch['reason'], expected: string, actual: string, firstTransferId: number | null): Mismatch => ({
      checkpointId: cp.id,
      reason,
      firstTransferId,
      lastTransferId: cp.last_transfer_id,
      expected,
      actual,
    });
    const expectedSeal = sealOf(secret, { lastXid: cp.last_xid, lastTransferId: cp.last_transfer_id, count: cp.transfer_count, prevHash: cp.prev_hash, hash: cp.hash });
    if (!same(expectedSeal, cp.seal)) firstMismatch = fail('seal', expectedSeal, cp.seal, null);
    else if (cp.prev_hash !== prevHash) firstMismatch = fail('link', prevHash, cp.prev_hash, null);
    if (firstMismatch) break;

    let hash = prevHash;
    let count = 0;
    let cursor = from;
    let firstId: number | null = null;
    for (;;) {
      const rows = await repo.chainRange(db, cursor, to, 5000);
      for (const t of rows) {
        firstId ??= t.id;
        hash = chainHash(hash, t);
      }
      count += rows.length;
      if (rows.length < 5000) break;
      const last = rows[rows.length - 1]!;
      cursor = { xid: last.xid, id: last.id };
    }
    if (count !== cp.transfer_count) firstMismatch = fail('count', String(cp.transfer_count), String(count), firstId);
    else if (hash !== cp.hash) firstMismatch = fail('hash', cp.hash, hash, firstId);
    if (firstMismatch) break;
    sealed += count;
    prevHash = cp.hash;
    from = to;
  }
  const unsealed = firstMismatch ? 0 : await repo.countAfter(db, from);
  return { ok: firstMismatch === null, checkpoints: checkpoints.length, sealedTransfers: sealed, unsealedTransfers: unsealed, firstMismatch, verifiedAt: new Date().toISOString() };
}
