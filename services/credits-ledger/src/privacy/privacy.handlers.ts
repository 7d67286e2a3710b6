import type { Handlers } from '@imlab/queue';
import type { DB } from '../db.js';
import { purgeUser } from './privacy.service.js';

export function privacyHandlers(): Handlers<DB> {
  return {
    'user.purge': ({ tx, payload }) => purgeUser(tx, payload.userId),
    // Auth assembles exports by calling GET /internal/users/:userId/export; nothing to prepare here.
    'export.requested': async () => ({ servedBy: 'GET /internal/users/:userId/export' }),
  };
}
