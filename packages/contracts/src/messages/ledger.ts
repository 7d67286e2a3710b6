import { Type } from '@sinclair/typebox';
import { command, event } from './define.js';
import { Uuid, PositiveInt, NonNegativeInt, IsoDate } from './common.js';

const Key = Type.String({ minLength: 1, maxLength: 200 });

export const ledgerMessages = {
  'ledger.grant': command(
    'credits-ledger',
    Type.Object(
      {
        idempotencyKey: Key,
        userId: Uuid,
        amount: PositiveInt,
        source: Type.Union([Type.Literal('purchase'), Type.Literal('promo')]),
        reference: Type.String({ maxLength: 200 }),
      },
      { additionalProperties: false },
    ),
  ),
  /** Hold keyed by the generation id: available → held until captured, released or expired. */
  'ledger.reserve': command(
    'credits-ledger',
    Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt, expiresAt: IsoDate, reference: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
  ),
  /** Capture all of a hold, or `amount` of it (the rest returns to available). */
  'ledger.capture': command('credits-ledger', Type.Object({ holdId: Uuid, amount: Type.Optional(NonNegativeInt) }, { additionalProperties: false })),
  'ledger.release': command('credits-ledger', Type.Object({ holdId: Uuid, reason: Type.String({ maxLength: 100 }) }, { additionalProperties: false })),
  /** Refund or dispute: take back what is still available; the rest is recorded as debt. */
  'ledger.clawback': command(
    'credits-ledger',
    Type.Object({ idempotencyKey: Key, userId: Uuid, amount: PositiveInt, reference: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
  ),
  /** Dispute won: give back what a clawback took. */
  'ledger.restore': command(
    'credits-ledger',
    Type.Object({ idempotencyKey: Key, userId: Uuid, amount: PositiveInt, reference: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
  ),
  'ledger.hold-placed': event(['generation'], Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt }, { additionalProperties: false })),
  'ledger.hold-rejected': event(
    ['generation'],
    Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt, shortfall: NonNegativeInt }, { additionalProperties: false }),
  ),
  'ledger.hold-expired': event(['generation'], Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt }, { additionalProperties: false })),
  'ledger.low-balance': event(['notification'], Type.Object({ userId: Uuid, available: NonNegativeInt, threshold: NonNegativeInt }, { additionalProperties: false })),
  /** Grants, clawbacks and restores as posted, for billing's reconciliation. */
  'ledger.posted': event(
    ['billing'],
    Type.Object(
      {
        idempotencyKey: Key,
        kind: Type.Union([Type.Literal('grant'), Type.Literal('clawback'), Type.Literal('restore')]),
        userId: Uuid,
        amount: NonNegativeInt,
        debt: NonNegativeInt,
        reference: Type.String({ maxLength: 200 }),
      },
      { additionalProperties: false },
    ),
  ),
};
