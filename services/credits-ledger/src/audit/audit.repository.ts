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

const chainColumns = sql`id, xid::text as xid, debit_account_id, credit_account_id, amount, kind, subject_id, posting_id, hold_id,
  to_char(created_at at time zone 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"') as created_at`;

/** Only one sealer at a time, without ever blocking writers (transaction-scoped advisory lock). */
export async function trySealLock(tx: Transaction<DB>): Promise<boolean> {
  const { rows } = await sql<{ ok: boolean }>`select pg_try_advisory_xact_lock(hashtext('imlab-ledger-seal')) as ok`.execute(tx);
  return rows[0]?.ok === true;
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
    from transfers
    where (xid, id) > (${from.xid}::xid8, ${from.id}::int8)
      and xid < pg_snapshot_xmin(pg_current_snapshot())
    order by xid, id
    limit ${limit}`.execute(tx);
  return rows;
}

/** Transfers in the chain range (from, to], in chain order, a page at a time. */
export async function chainRange(db: Db<DB>, from: ChainPosition, to: ChainPosition, limit: number): Promise<ChainRow[]> {
  const { rows } = await sql<ChainRow>`
    select ${chainColumns}
    from transfers
    where (xid, id) > (${from.xid}::xid8, ${from.id}::int8) and (xid, id) <= (${to.xid}::xid8, ${to.id}::int8)
    order by xid, id
    limit ${limit}`.execute(db);
  return rows;
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
