import { Type } from '@sinclair/typebox';
import { event } from './define.js';
import { Uuid, Locale, IsoDate, Hash } from './common.js';

export const authMessages = {
  /** A person signed up (email or Google). Notification keeps the contact for later emails. */
  'user.registered': event(
    ['notification', 'generation'],
    Type.Object({ userId: Uuid, email: Type.String({ format: 'email' }), locale: Locale, displayName: Type.String() }, { additionalProperties: false }),
  ),
  'user.verified': event([], Type.Object({ userId: Uuid, ipHash: Type.Optional(Hash) }, { additionalProperties: false })),
  'user.updated': event(
    ['notification', 'generation'],
    Type.Object({ userId: Uuid, email: Type.String({ format: 'email' }), locale: Locale, displayName: Type.String() }, { additionalProperties: false }),
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
