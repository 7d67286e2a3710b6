import type { Handlers } from '@imlab/queue';
import type { Transaction } from '@imlab/db';
import type { DB } from '../db.js';
import type { ObjectStorage } from '../storage/storage.js';
import type { GenerationService } from './generations.service.js';
import type { StatusEvents } from './status-events.js';
import { upsertProfile } from '../users/users.repository.js';
import { purgeUser } from '../privacy/privacy.service.js';
import * as repo from './generations.repository.js';
import { republishWithdrawn, unpublishAllOfUser } from '../images/images.repository.js';

/**
 * The generation inbox. Each handler runs in the inbox transaction (deduplicated by message id)
 * and every state change is conditional, so redelivery and the API's own wait racing these
 * events are both harmless.
 */
export function generationHandlers(service: GenerationService, storage: ObjectStorage, events: StatusEvents): Handlers<DB> {
  const tx = (t: unknown) => t as Transaction<DB>;
  // The row is re-read by SSE readers, and a poll covers a notice that arrives before the commit.
  const notify = (id: string, status: Parameters<StatusEvents['publish']>[1]) => setTimeout(() => void events.publish(id, status).catch(() => {}), 20).unref();
  return {
    'ledger.hold-placed': async ({ tx: t, payload }) => {
      await service.onHoldPlaced(payload.holdId, tx(t));
      const g = await repo.findGeneration(tx(t), payload.holdId);
      if (g) notify(g.id, g.status);
      return { status: g?.status ?? 'gone' };
    },
    'ledger.hold-rejected': async ({ tx: t, payload }) => {
      const g = await service.onHoldRejected(payload.holdId, payload.shortfall, 'LEDGER_INSUFFICIENT_CREDITS', tx(t));
      if (g) notify(g.id, g.status);
      return { status: g?.status ?? 'unchanged' };
    },
    'ledger.hold-expired': async ({ tx: t, payload }) => {
      const g = await service.onHoldExpired(tx(t), payload.holdId);
      if (g) notify(g.id, g.status);
      return { status: g?.status ?? 'unchanged' };
    },
    // Only the display name is kept (for the gallery); the email in these events is not stored.
    'user.registered': async ({ tx: t, payload, message }) => ({ applied: await upsertProfile(tx(t), payload.userId, payload.displayName, new Date(message.occurredAt)) }),
    'user.updated': async ({ tx: t, payload, message }) => ({ applied: await upsertProfile(tx(t), payload.userId, payload.displayName, new Date(message.occurredAt)) }),
    // Deletion requested: the account is closed now, the purge follows later; nothing of theirs stays public meanwhile.
    'user.deletion-requested': async ({ tx: t, payload }) => ({ unpublished: await unpublishAllOfUser(tx(t), payload.userId) }),
    // The person kept the account in its grace period: the gallery gets back what the request took off.
    'user.deletion-cancelled': async ({ tx: t, payload }) => ({ republished: await republishWithdrawn(tx(t), payload.userId) }),
    'user.purge': async ({ tx: t, payload }) => purgeUser(tx(t), storage, payload.userId),
    // Exports are pulled by auth from GET /internal/users/:userId/export; nothing to do here.
    'export.requested': async () => ({ served: 'GET /internal/users/:userId/export' }),
  };
}
