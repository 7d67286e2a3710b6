import { Type } from '@sinclair/typebox';
import { command } from './define.js';
import { Locale } from './common.js';
import { EmailOrSealed } from './auth.js';

export const EMAIL_TEMPLATES = [
  'verify-email',
  'password-reset',
  'password-changed',
  'purchase-receipt',
  'low-balance',
  'generation-refunded',
  'account-deletion-scheduled',
  'account-deleted',
  'export-ready',
  'google-sign-in-refused',
  'email-change-confirm',
  'email-changed',
  'google-linked',
  'google-unlinked',
  'account-deletion-cancelled',
  'image-taken-down',
  'account-suspended',
  'account-reinstated',
] as const;
export type EmailTemplate = (typeof EMAIL_TEMPLATES)[number];

/**
 * `data` each template reads (others are ignored). Every template also takes an optional
 * `displayName` (else the contact's). A `link` is a path (`/verify-email?token=…`) joined to
 * notification's PUBLIC_BASE_URL, or an absolute URL that already lies under it; any other link
 * fails the email permanently. Amounts are integers in minor units; dates are ISO 8601.
 *
 * - verify-email: link
 * - password-reset: link, expiresInMinutes?
 * - password-changed: changedAt?
 * - purchase-receipt: orderId, credits, amount, currency (sent by notification itself on `order.paid`)
 * - low-balance: available, threshold? (on `ledger.low-balance`)
 * - generation-refunded: generationId, credits? (on `generation.finished` with refunded)
 * - account-deletion-scheduled: purgeAfter
 * - account-deleted: (nothing) — send it with `to`: the contact is gone after `user.purge`
 * - export-ready: link, expiresAt?
 * - google-sign-in-refused: attemptedAt? — a Google account other than the linked one tried to sign in with the address
 * - email-change-confirm: link, expiresInHours? — sent with `to`: the new address, which confirms the change
 * - email-changed: link, newEmailMasked, undoDays? — to the old address: the change happened; the link takes it back
 * - google-linked: linkedAt? — a Google account was linked for signing in
 * - google-unlinked: unlinkedAt? — the Google account was unlinked
 * - account-deletion-cancelled: (nothing) — the person kept the account during the grace period
 * - account-suspended: (nothing) — an admin suspended the account
 * - account-reinstated: (nothing) — the suspension was lifted
 * - image-taken-down: rule (a MODERATION_REASONS id), takenDownAt? — a moderator took one of the person's gallery images down
 */
export const notificationMessages = {
  /**
   * Either `to` (an address) or `userId` (resolved from notification's contacts) must be given;
   * `to` wins when both are. `idempotencyKey` makes the send happen at most once, ever: the same
   * key again (a retry, a duplicate) sends nothing more. Locale: given, else the contact's, else en.
   */
  'email.send': command(
    'notification',
    Type.Object(
      {
        template: Type.Union(EMAIL_TEMPLATES.map((t) => Type.Literal(t))),
        /** Sealed by auth (see EmailOrSealed): job payloads in Redis never hold the address. */
        to: Type.Optional(EmailOrSealed),
        userId: Type.Optional(Type.String({ format: 'uuid' })),
        locale: Type.Optional(Locale),
        data: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
        idempotencyKey: Type.String({ minLength: 1, maxLength: 256 }),
      },
      { additionalProperties: false },
    ),
  ),
};
