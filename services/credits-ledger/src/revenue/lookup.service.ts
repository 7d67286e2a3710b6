import { sql, type Kysely } from '@imlab/db';
import { badRequest, notFound } from '@imlab/http';
import type { DB } from '../db.js';

/**
 * Finance goes from a person, one of their accounts or an order to the books and back — ids only
 * (support tools own anything more personal). An order is found through the postings billing keys
 * `order:<id>…`, whose subject is the person's available account.
 */
export async function lookup(db: Kysely<DB>, q: { userId?: string | undefined; accountId?: string | undefined; orderId?: string | undefined }) {
  const given = [q.userId, q.accountId, q.orderId].filter((v) => v !== undefined).length;
  if (given !== 1) throw badRequest('VALIDATION_FAILED', 'give exactly one of userId, accountId, orderId');
  let owner: string;
  if (q.userId) owner = q.userId.toLowerCase();
  else if (q.accountId) {
    const acc = await db.selectFrom('accounts').select(['owner_id', 'type']).where('id', '=', q.accountId).executeTakeFirst();
    if (!acc || acc.owner_id === null) throw notFound('account', 'LEDGER_ACCOUNT_NOT_FOUND');
    owner = acc.owner_id;
  } else {
    const { rows } = await sql<{ owner_id: string }>`
      select a.owner_id from postings p join accounts a on a.id = p.subject_id
      where p.idempotency_key = ${`order:${q.orderId!.toLowerCase()}`} limit 1`.execute(db);
    if (!rows[0]) throw notFound('order in the ledger', 'LEDGER_ACCOUNT_NOT_FOUND');
    owner = rows[0].owner_id;
  }
  const accounts = await db.selectFrom('accounts').select(['id', 'type']).where('owner_id', '=', owner).orderBy('type').execute();
  if (accounts.length === 0) throw notFound('account', 'LEDGER_ACCOUNT_NOT_FOUND');
  const available = accounts.find((a) => a.type === 'available')?.id;
  const { rows: orders } = await sql<{ order_id: string }>`
    select distinct substring(idempotency_key from 7 for 36) as order_id from postings
    where subject_id = ${available ?? null} and kind = 'grant' and idempotency_key ~ '^order:[0-9a-f-]{36}$'
    order by 1`.execute(db);
  return { userId: owner, accounts: accounts.map((a) => ({ accountId: a.id, type: a.type })), orderIds: orders.map((o) => o.order_id) };
}
