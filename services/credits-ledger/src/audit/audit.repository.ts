import { sql, type Db, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';

/** The fields a checkpoint seals; `reference` is left out on purpose so a privacy scrub never breaks the chain. */
export interface ChainRow {
  id: number;
  xid: string;
  debit_account_id: string;
  credit_account_id: string;
  amount: number;
  kind: string;
  subject_id: string | null;
  posting_id: number | null;
  hold_id: string | null;
  created_at: string;
}

export interface ChainPosition {
  xid: string;
  id: number;
}

export const CHAIN_START: ChainPosition = { xid: '0', id: 0 };

// The chain is in (xid, id) order, the numbers. Queries that select `xid::text as xid` must order
// by the table's column (qualified: `t.xid`): an unqualified ORDER BY name means the output column,
// the text, where '10' sorts before '9' (test/ledger.chain-order.test.ts).
const chainColumns = sql`id, xid::text as xid, debit_account_id, credit_account_id, amount, kind, subject_id, posting_id, hold_id,
  to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at`;

const SEAL_LOCK = sql`hashtext('imlab-ledger-seal')`;

/**
 * Only one sealer at a time, without ever blocking writers. Session-scoped and taken before the
 * sealing transaction begins, so the sealer's snapshot is taken after it holds the lock: a purge
 * (which holds the same lock while it erases transfers, `lockSealing`) has then either committed,
 * and the snapshot sees the rows gone, or not started.
 */
export async function trySealLock(db: Db<DB>): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${SEAL_LOCK}) as ok`.execute(db);
  return rows[0]?.ok === true;
}

export async function sealUnlock(db: Db<DB>): Promise<void> {
  await sql`select pg_advisory_unlock(${SEAL_LOCK})`.execute(db);
}

/** The purge's side of the same lock, to its commit: no checkpoint is written while it erases. */
export async function lockSealing(tx: Transaction<DB>): Promise<void> {
  await sql`select pg_advisory_xact_lock(${SEAL_LOCK})`.execute(tx);
}

export async function lastCheckpoint(db: Db<DB>) {
  return db.selectFrom('checkpoints').selectAll().orderBy('id', 'desc').limit(1).executeTakeFirst();
}

export async function listCheckpoints(db: Db<DB>) {
  return db.selectFrom('checkpoints').selectAll().orderBy('id').execute();
}

/**
 * Transfers after `from` in chain order, limited to those below the snapshot's xmin: every
 * transaction that could still commit a transfer there has finished, so the set is final.
 */
export async function unsealedTransfers(tx: Transaction<DB>, from: ChainPosition, limit: number): Promise<ChainRow[]> {
  const { rows } = await sql<ChainRow>`
    select ${chainColumns}
    from transfers t
    where (t.xid, t.id) > (${from.xid}::xid8, ${from.id}::int8)
      and t.xid < pg_snapshot_xmin(pg_current_snapshot())
    order by t.xid, t.id
    limit ${limit}`.execute(tx);
  return rows;
}

/** A step of the chain: a transfer still present, or what is kept of one erased at purge. */
export type ChainEntry = { erased: false; row: ChainRow } | { erased: true; id: number; xid: string; prevHash: string; hash: string };

type EntryRow = ChainRow & { erased: boolean; prev_hash: string | null; hash: string | null };

/** Chain entries (transfers and erased transfers' hashes) in the range (from, to], in chain order, a page at a time. */
export async function chainEntries(db: Db<DB>, from: ChainPosition, to: ChainPosition, limit: number): Promise<ChainEntry[]> {
  const { rows } = await sql<EntryRow>`
    select * from (
      (select false as erased, xid as x, ${chainColumns}, null::text as prev_hash, null::text as hash
       from transfers
       where (xid, id) > (${from.xid}::xid8, ${from.id}::int8) and (xid, id) <= (${to.xid}::xid8, ${to.id}::int8)
       order by x, id
       limit ${limit})
      union all
      (select true, xid as x, transfer_id as id, xid::text as xid, null::uuid, null::uuid, null::int8, null::text, null::uuid, null::int8, null::uuid, null::text,
              prev_hash, hash
       from erased_transfer_hashes
       where (xid, transfer_id) > (${from.xid}::xid8, ${from.id}::int8) and (xid, transfer_id) <= (${to.xid}::xid8, ${to.id}::int8)
       order by x, id
       limit ${limit})
    ) e
    order by x, id
    limit ${limit}`.execute(db);
  return rows.map(({ erased, prev_hash, hash, x: _x, ...row }: EntryRow & { x?: unknown }) =>
    erased ? { erased: true, id: row.id, xid: row.xid, prevHash: prev_hash!, hash: hash! } : { erased: false, row },
  );
}

/** The checkpoint that seals the chain position `at`, and where the chain stood before it. */
export async function checkpointSealing(db: Db<DB>, at: ChainPosition) {
  const cp = await sql<{ id: number; last_xid: string; last_transfer_id: number; prev_hash: string; hash: string }>`
    select c.id, c.last_xid::text as last_xid, c.last_transfer_id, c.prev_hash, c.hash from checkpoints c
    where (c.last_xid, c.last_transfer_id) >= (${at.xid}::xid8, ${at.id}::int8)
    order by c.last_xid, c.last_transfer_id
    limit 1`.execute(db);
  const found = cp.rows[0];
  if (!found) return undefined;
  const before = await sql<{ last_xid: string; last_transfer_id: number }>`
    select last_xid::text as last_xid, last_transfer_id from checkpoints where id < ${found.id} order by id desc limit 1`.execute(db);
  const prev = before.rows[0];
  return { ...found, from: prev ? { xid: prev.last_xid, id: prev.last_transfer_id } : CHAIN_START };
}

export async function countAfter(db: Db<DB>, from: ChainPosition): Promise<number> {
  const { rows } = await sql<{ n: number }>`select count(*)::int8 as n from transfers where (xid, id) > (${from.xid}::xid8, ${from.id}::int8)`.execute(db);
  return rows[0]?.n ?? 0;
}

export async function insertCheckpoint(
  tx: Transaction<DB>,
  c: { lastXid: string; lastTransferId: number; count: number; prevHash: string; hash: string; seal: string },
): Promise<number> {
  const row = await tx
    .insertInto('checkpoints')
    .values({ last_xid: c.lastXid, last_transfer_id: c.lastTransferId, transfer_count: c.count, prev_hash: c.prevHash, hash: c.hash, seal: c.seal })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}
