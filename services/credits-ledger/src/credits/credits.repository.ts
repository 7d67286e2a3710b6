import { sql, type Db } from '@imlab/db';
import type { DB, TransferKind } from '../db.js';

export interface MovementRow {
  id: number;
  kind: TransferKind;
  amount: number;
  outgoing: boolean;
  reference: string | null;
  hold_id: string | null;
  reason: string | null;
  created_at: Date;
}

/**
 * Transfers that moved credits in or out of one available account, newest first, before `beforeId`.
 * Two index range scans (debit side, credit side) merged, so a long history stays cheap to page.
 */
export async function listAvailableMovements(db: Db<DB>, accountId: string, beforeId: number | null, limit: number): Promise<MovementRow[]> {
  const before = beforeId ?? Number.MAX_SAFE_INTEGER;
  const { rows } = await sql<MovementRow>`
    select t.id, t.kind, t.amount, t.debit_account_id = ${accountId} as outgoing, t.reference, t.hold_id, h.reason, t.created_at
    from transfers t
    left join holds h on h.id = t.hold_id
    where t.id in (
      (select id from transfers where debit_account_id = ${accountId} and id < ${before} order by id desc limit ${limit})
      union all
      (select id from transfers where credit_account_id = ${accountId} and id < ${before} order by id desc limit ${limit})
    )
    order by t.id desc
    limit ${limit}`.execute(db);
  return rows;
}
