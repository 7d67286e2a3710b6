import { Type } from '@sinclair/typebox';
import { event } from './define.js';
import { Uuid, Locale, IsoDate, Hash } from './common.js';

/**
 * The person's address, sealed (AES-256-GCM under MESSAGE_SEAL_KEY, `@imlab/queue` seal): message
 * payloads sit in the outbox, in Redis and in BullMQ's retained jobs, and must not name anyone
 * there. Only notification (which has the key) opens it.
 */
export const SealedEmail = Type.String({ minLength: 1, maxLength: 2048, pattern: '^sealed:', description: 'an email address sealed under MESSAGE_SEAL_KEY' });
/** An address, plain or sealed: auth always seals; the plain form remains for tools and senders without the key. */
export const EmailOrSealed = Type.Union([Type.String({ format: 'email' }), SealedEmail]);

export const authMessages = {
  /** A person signed up (email or Google). Notification keeps the contact for later emails. */
  'user.registered': event(
    ['notification', 'generation'],
    Type.Object({ userId: Uuid, email: EmailOrSealed, locale: Locale, displayName: Type.String() }, { additionalProperties: false }),
  ),
  'user.verified': event([], Type.Object({ userId: Uuid, ipHash: Type.Optional(Hash) }, { additionalProperties: false })),
  'user.updated': event(
    ['notification', 'generation'],
    Type.Object({ userId: Uuid, email: EmailOrSealed, locale: Locale, displayName: Type.String() }, { additionalProperties: false }),
  ),
  /**
   * DELETE /me: the account is closed now (purged at purgeAfter) and generation takes its images off
   * the public gallery at once. Persistent: dropped after a short outage, the images would stay
   * public until the purge.
   */
  'user.deletion-requested': event(['generation'], Type.Object({ userId: Uuid, purgeAfter: IsoDate }, { additionalProperties: false }), { persistent: true }),
  /**
   * Every service removes or anonymises what it holds about userId. Persistent: auth has already
   * deleted its side, so a subscriber that fails for a while (storage or database down) must keep
   * retrying, or the person's data would stay forever.
   */
  'user.purge': event(
    ['credits-ledger', 'generation', 'billing', 'notification'],
    Type.Object({ userId: Uuid }, { additionalProperties: false }),
    { persistent: true },
  ),
  /** Export of everything a person owns: each listed service contributes its part. */
  'export.requested': event(['credits-ledger', 'generation'], Type.Object({ exportId: Uuid, userId: Uuid }, { additionalProperties: false })),
};
