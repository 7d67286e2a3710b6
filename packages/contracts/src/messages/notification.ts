import { Type } from '@sinclair/typebox';
import { command } from './define.js';
import { Locale } from './common.js';

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
] as const;
export type EmailTemplate = (typeof EMAIL_TEMPLATES)[number];

export const notificationMessages = {
  /** Either `to` (an address) or `userId` (resolved from notification's contacts) must be given. */
  'email.send': command(
    'notification',
    Type.Object(
      {
        template: Type.Union(EMAIL_TEMPLATES.map((t) => Type.Literal(t))),
        to: Type.Optional(Type.String({ format: 'email' })),
        userId: Type.Optional(Type.String({ format: 'uuid' })),
        locale: Type.Optional(Locale),
        data: Type.Record(Type.String(), Type.Union([Type.String(), Type.Number(), Type.Boolean(), Type.Null()])),
        idempotencyKey: Type.String({ minLength: 1, maxLength: 256 }),
      },
      { additionalProperties: false },
    ),
  ),
};
