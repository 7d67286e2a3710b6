import type { Transaction } from '@imlab/db';
import type { Handlers } from '@imlab/queue';
import type { DB } from '../db.js';
import { purgeUser } from './privacy.service.js';

export function privacyHandlers(): Handlers {
  return {
    'user.purge': ({ tx, payload }) => purgeUser(tx as unknown as Transaction<DB>, payload.userId),
    // Auth assembles exports by calling GET /internal/users/:userId/export; nothing to prepare here.
    'export.requested': async () => ({ servedBy: 'GET /internal/users/:userId/export' }),
  };
}
