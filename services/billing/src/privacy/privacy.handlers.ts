import type { Handler } from '@imlab/queue';
import type { DB } from '../db.js';
import { unlinkUser } from '../orders/orders.repository.js';

/** user.purge: orders stay for the books, unlinked from the person (nothing else here names them). */
export const userPurgeHandler: Handler<'user.purge', DB> = async ({ tx, payload, log }) => {
  const orders = await unlinkUser(tx, payload.userId);
  log.info({ orders }, 'orders unlinked from purged account');
  return { orders };
};
