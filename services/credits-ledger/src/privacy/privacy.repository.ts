import { sql, type Db, type Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import type { ChainPosition } from '../audit/audit.repository.js';
import type { ErasedHash } from '../audit/audit.service.js';

export interface PersonAccounts {
  availableId: string;
  heldId: string | null;
}

export async function accountsOf(db: Db<DB>, userId: string): Promise<PersonAccounts | undefined> {
  const rows = await db.selectFrom('accounts').select(['id', 'type']).where('owner_id', '=', userId).execute();
  const available = rows.find((r) => r.type === 'available');
  if (!available) return undefined;
  return { availableId: available.id, heldId: rows.find((r) => r.type === 'held')?.id ?? null };
}

/**
 * Locks what a capture, release or the sweeper could still move for the person, in the order they
 * lock it (their holds, then available, then held), so the erasure sees their final state.
 */
export async function lockPerson(tx: Transaction<DB>, ids: string[]): Promise<void> {
  await sql`select id from holds where subject_id = any(${ids}::uuid[]) or held_account_id = any(${ids}::uuid[]) order by id for update`.execute(tx);
  await sql`select id from accounts where id = any(${ids}::uuid[]) order by (type = 'held'), id for update`.execute(tx);
}

/** Chain positions of the person's transfers (touching their accounts, or about them), in chain order, split at the last checkpoint. */
export async function transferPositions(tx: Transaction<DB>, ids: string[]): Promise<{ sealed: ChainPosition[]; unsealed: number }> {
  const { rows } = await sql<{ xid: string; id: number; sealed: boolean }>`
    with last as (select last_xid, last_transfer_id from checkpoints order by id desc limit 1)
    select t.xid::text as xid, t.id,
           coalesce((t.xid, t.id) <= (select last_xid, last_transfer_id from last), false) as sealed
    from transfers t
    where t.debit_account_id = any(${ids}::uuid[]) or t.credit_account_id = any(${ids}::uuid[]) or t.subject_id = any(${ids}::uuid[])
    order by t.xid, t.id`.execute(tx);
  return { sealed: rows.filter((r) => r.sealed).map((r) => ({ xid: r.xid, id: r.id })), unsealed: rows.filter((r) => !r.sealed).length };
}

export async function keepErasedHashes(tx: Transaction<DB>, hashes: ErasedHash[]): Promise<void> {
  for (let i = 0; i < hashes.length; i += 1000) {
    await tx
      .insertInto('erased_transfer_hashes')
      .values(hashes.slice(i, i + 1000).map((h) => ({ transfer_id: h.id, xid: h.xid, prev_hash: h.prevHash, hash: h.hash })))
      .execute();
  }
}

/**
 * Replaces the person's transfers by aggregates: their accounts become `erased`, the amounts are
 * summed per (UTC calendar month, kind, debit, credit) and dated at the start of that month; what
 * moved between their own accounts nets out (both sides `erased`) and is dropped. Every other
 * account keeps its debits and credits in every calendar month. Returns the number of aggregates.
 */
export async function insertAggregates(tx: Transaction<DB>, ids: string[], erasedId: string): Promise<number> {
  const res = await sql`
    insert into transfers (debit_account_id, credit_account_id, amount, kind, created_at)
    select debit, credit, sum(amount)::int8, kind, month
    from (
      select case when t.debit_account_id = any(${ids}::uuid[]) then ${erasedId}::uuid else t.debit_account_id end as debit,
             case when t.credit_account_id = any(${ids}::uuid[]) then ${erasedId}::uuid else t.credit_account_id end as credit,
             t.amount, t.kind,
             date_trunc('month', t.created_at at time zone 'UTC') at time zone 'UTC' as month
      from transfers t
      where t.debit_account_id = any(${ids}::uuid[]) or t.credit_account_id = any(${ids}::uuid[]) or t.subject_id = any(${ids}::uuid[])
    ) x
    where debit <> credit
    group by month, kind, debit, credit
    order by month, kind, debit, credit`.execute(tx);
  return Number(res.numAffectedRows ?? 0);
}

/**
 * Deletes the person's transfers, holds, postings and accounts. The immutability trigger lets the
 * transfers go only because this transaction names their accounts (and only after the sealed ones
 * left their chain hashes).
 */
export async function deletePerson(tx: Transaction<DB>, ids: string[]): Promise<number> {
  await sql`select set_config('imlab.ledger_erase_accounts', ${ids.join(',')}, true)`.execute(tx);
  const res = await sql`
    delete from transfers
    where debit_account_id = any(${ids}::uuid[]) or credit_account_id = any(${ids}::uuid[]) or subject_id = any(${ids}::uuid[])`.execute(tx);
  await sql`select set_config('imlab.ledger_erase_accounts', '', true)`.execute(tx);
  await sql`delete from holds where subject_id = any(${ids}::uuid[]) or held_account_id = any(${ids}::uuid[])`.execute(tx);
  await sql`delete from postings where subject_id = any(${ids}::uuid[])`.execute(tx);
  await sql`delete from accounts where id = any(${ids}::uuid[])`.execute(tx);
  return Number(res.numAffectedRows ?? 0);
}

/** An owner (a random id, not a person's) of accounts re-keyed by a purge before erasure existed. */
export async function nextAnonymizedOwner(db: Db<DB>): Promise<string | undefined> {
  const row = await db
    .selectFrom('accounts')
    .select('owner_id')
    .where('anonymized_at', 'is not', null)
    .where('owner_id', 'is not', null)
    .limit(1)
    .executeTakeFirst();
  return row?.owner_id ?? undefined;
}

export async function accountIdsOfOwner(tx: Transaction<DB>, ownerId: string): Promise<string[]> {
  const rows = await tx.selectFrom('accounts').select(['id', 'type']).where('owner_id', '=', ownerId).execute();
  return rows.sort((a, b) => (a.type === b.type ? 0 : a.type === 'available' ? -1 : 1)).map((r) => r.id);
}

/** Published messages we still keep in the outbox carry the user id in their payload. */
export async function deleteSentMessagesAbout(tx: Transaction<DB>, userId: string): Promise<void> {
  await tx
    .deleteFrom('outbox')
    .where('sent_at', 'is not', null)
    .where(sql<string>`payload->>'userId'`, '=', userId)
    .execute();
}
