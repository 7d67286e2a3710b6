import { Type } from '@sinclair/typebox';
import { command, event } from './define.js';
import { Uuid, Locale, IsoDate, Hash } from './common.js';

/**
 * The person's address, sealed (AES-256-GCM under MESSAGE_SEAL_KEY, `@imlab/queue` seal): message
 * payloads sit in the outbox, in Redis and in BullMQ's retained jobs, and must not name anyone
 * there. Only notification (which has the key) opens it.
 */
export const SealedEmail = Type.String({ minLength: 1, maxLength: 2048, pattern: '^sealed:', description: 'an email address sealed under MESSAGE_SEAL_KEY' });
/** An address, plain or sealed: auth always seals; the plain form remains for tools and senders without the key. */
export const EmailOrSealed = Type.Union([Type.String({ format: 'email' }), SealedEmail]);

/** The services that hold something of a person and purge it on `user.purge` (auth does its own part first). */
export const PURGE_PARTS = ['credits-ledger', 'generation', 'billing', 'notification'] as const;

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
   * The person kept their account during the grace period (signed in and chose to keep it):
   * generation puts back on the gallery what the deletion request took off. Persistent, like the
   * request it undoes.
   */
  'user.deletion-cancelled': event(['generation'], Type.Object({ userId: Uuid }, { additionalProperties: false }), { persistent: true }),
  /**
   * Every service removes or anonymises what it holds about userId. Persistent: auth has already
   * deleted its side, so a subscriber that fails for a while (storage or database down) must keep
   * retrying, or the person's data would stay forever.
   */
  'user.purge': event(
    PURGE_PARTS,
    // deletionId: the receipt's id (names nobody); each subscriber reports its part done under it
    Type.Object({ userId: Uuid, deletionId: Type.Optional(Uuid) }, { additionalProperties: false }),
    { persistent: true },
  ),
  /**
   * A service finished its part of a purge (sent by the bus itself, in the transaction of that
   * service's `user.purge` handler): auth's deletion receipt records it, and sends the last email
   * once every part is done.
   */
  'user.purge-completed': command(
    'auth',
    Type.Object({ deletionId: Uuid, service: Type.Union(PURGE_PARTS.map((s) => Type.Literal(s))) }, { additionalProperties: false }),
    { persistent: true },
  ),
  /** Export of everything a person owns: each listed service contributes its part. */
  'export.requested': event(['credits-ledger', 'generation'], Type.Object({ exportId: Uuid, userId: Uuid }, { additionalProperties: false })),
};
