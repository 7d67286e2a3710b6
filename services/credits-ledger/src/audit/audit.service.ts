import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { Db, Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { invariantBroken } from '../ledger/ledger.errors.js';
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
 * horizon and the rows read are one snapshot; takes no lock a writer could wait on. The sealer's
 * lock is taken on the connection before the transaction starts (see repo.trySealLock).
 * Returns the number of transfers sealed (0 when nothing was final or another sealer runs).
 */
export async function sealOnce(db: Kysely<DB>, secret: string, batch = 20_000): Promise<number> {
  return db.connection().execute(async (conn) => {
    if (!(await repo.trySealLock(conn))) return 0;
    try {
      return await conn
        .transaction()
        .setIsolationLevel('repeatable read')
        .execute(async (tx) => {
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
    } finally {
      await repo.sealUnlock(conn);
    }
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

/**
 * Recomputes every checkpoint from the transfers it covers and reports the first that disagrees.
 * A transfer erased at purge counts with the hashes it left: the chain computed up to it must equal
 * the hash kept before it, and continues from the hash kept after it.
 */
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
    let brokenAt: { id: number; expected: string; actual: string } | null = null;
    for (;;) {
      const entries = await repo.chainEntries(db, cursor, to, 5000);
      for (const e of entries) {
        const id = e.erased ? e.id : e.row.id;
        firstId ??= id;
        if (!e.erased) hash = chainHash(hash, e.row);
        else {
          // An erased transfer: the chain must reach it as it stood when it was erased; it goes on from the kept hash.
          if (brokenAt === null && e.prevHash !== hash) brokenAt = { id, expected: e.prevHash, actual: hash };
          hash = e.hash;
        }
      }
      count += entries.length;
      if (entries.length < 5000) break;
      const last = entries[entries.length - 1]!;
      cursor = last.erased ? { xid: last.xid, id: last.id } : { xid: last.row.xid, id: last.row.id };
    }
    if (brokenAt) {
      firstMismatch = fail('hash', brokenAt.expected, brokenAt.actual, firstId);
      break;
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

/** The chain hash before and after one sealed transfer, kept when the transfer is erased. */
export interface ErasedHash {
  id: number;
  xid: string;
  prevHash: string;
  hash: string;
}

/**
 * The chain hashes around each of `positions` (sealed transfers, in chain order), computed by
 * walking each checkpoint that seals one of them from the hash it starts from. Refuses when a
 * walked checkpoint does not end on its sealed hash: the purge must not erase evidence of tampering.
 * Reads under the caller's seal lock (repo.lockSealing), so no checkpoint is added meanwhile.
 */
export async function hashesAround(db: Db<DB>, positions: repo.ChainPosition[]): Promise<ErasedHash[]> {
  const out: ErasedHash[] = [];
  let i = 0;
  while (i < positions.length) {
    const cp = await repo.checkpointSealing(db, positions[i]!);
    if (!cp) throw invariantBroken(`transfer ${positions[i]!.id} is not sealed`);
    const to = { xid: cp.last_xid, id: cp.last_transfer_id };
    const wanted = new Set<number>();
    while (i < positions.length && cmp(positions[i]!, to) <= 0) wanted.add(positions[i++]!.id);
    let hash = cp.prev_hash;
    let cursor: repo.ChainPosition = cp.from;
    for (;;) {
      const entries = await repo.chainEntries(db, cursor, to, 5000);
      for (const e of entries) {
        if (e.erased) hash = e.hash;
        else {
          const next = chainHash(hash, e.row);
          if (wanted.has(e.row.id)) out.push({ id: e.row.id, xid: e.row.xid, prevHash: hash, hash: next });
          hash = next;
        }
      }
      if (entries.length < 5000) break;
      const last = entries[entries.length - 1]!;
      cursor = last.erased ? { xid: last.xid, id: last.id } : { xid: last.row.xid, id: last.row.id };
    }
    if (hash !== cp.hash) throw invariantBroken(`checkpoint ${cp.id} does not verify; erasing inside it would hide that`);
  }
  return out;
}

/** Chain order of two positions (xid8 as decimal text, then id). */
function cmp(a: repo.ChainPosition, b: repo.ChainPosition): number {
  const ax = BigInt(a.xid);
  const bx = BigInt(b.xid);
  if (ax !== bx) return ax < bx ? -1 : 1;
  return a.id - b.id;
}
