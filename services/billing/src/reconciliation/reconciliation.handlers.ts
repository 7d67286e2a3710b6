import type { Handler } from '@imlab/queue';
import type { DB } from '../db.js';
import { recordLedgerPosting } from './reconciliation.repository.js';

const ORDER_KEY = /^order:([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})(?::|$)/i;
export const orderOfKey = (key: string): string | null => ORDER_KEY.exec(key)?.[1]?.toLowerCase() ?? null;

/**
 * ledger.posted: keeps what the ledger did for billing's keys (`order:<id>…`); the user id in the
 * event is not stored — reconciliation needs only the order.
 */
export const ledgerPostedHandler: Handler<'ledger.posted', DB> = async ({ tx, payload }) => {
  const orderId = orderOfKey(payload.idempotencyKey);
  if (!orderId) return { stored: false };
  await recordLedgerPosting(tx, {
    idempotency_key: payload.idempotencyKey,
    order_id: orderId,
    kind: payload.kind,
    amount: payload.amount,
    debt: payload.debt,
  });
  return { stored: true };
};
