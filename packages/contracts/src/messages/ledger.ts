import { Type, type Static } from '@sinclair/typebox';
import { command, event } from './define.js';
import { Uuid, PositiveInt, NonNegativeInt, IsoDate } from './common.js';

const Key = Type.String({ minLength: 1, maxLength: 200 });
/**
 * The idempotency key of the posting this one must follow. Queued commands can arrive in any
 * order, and a clawback applied before its grant books debt the grant never repays (credits out
 * of nothing); the ledger retries such a command until that posting exists.
 */
const After = Key;

/**
 * Commands that move credits, and the events money depends on, are persistent: a ledger (or
 * billing) database out for longer than the usual attempts (about a minute) must not drop a
 * capture (images delivered unpaid), a grant (a paid order never credited) or a release.
 */
const MONEY = { persistent: true };

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
        /**
         * What the credits were sold for, net of tax, in the currency's minor unit (purchases only):
         * the price each credit's revenue is recognised at when it is spent (finance's revenue
         * report). Not part of the idempotency hash: a redelivery carries the same value.
         */
        value: Type.Optional(Type.Object({ amount: NonNegativeInt, currency: Type.String({ pattern: '^[a-z]{3}$' }) }, { additionalProperties: false })),
      },
      { additionalProperties: false },
    ),
    MONEY,
  ),
  /** Hold keyed by the generation id: available → held until captured, released or expired. */
  'ledger.reserve': command(
    'credits-ledger',
    Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt, expiresAt: IsoDate, reference: Type.String({ maxLength: 200 }) }, { additionalProperties: false }),
    MONEY,
  ),
  /** Capture all of a hold, or `amount` of it (the rest returns to available). */
  'ledger.capture': command('credits-ledger', Type.Object({ holdId: Uuid, amount: Type.Optional(NonNegativeInt) }, { additionalProperties: false }), MONEY),
  'ledger.release': command('credits-ledger', Type.Object({ holdId: Uuid, reason: Type.String({ maxLength: 100 }) }, { additionalProperties: false }), MONEY),
  /** Refund or dispute: take back what is still available; the rest is recorded as debt. */
  'ledger.clawback': command(
    'credits-ledger',
    Type.Object({ idempotencyKey: Key, userId: Uuid, amount: PositiveInt, reference: Type.String({ maxLength: 200 }), after: Type.Optional(After) }, { additionalProperties: false }),
    MONEY,
  ),
  /** Dispute won: give back what a clawback took. */
  'ledger.restore': command(
    'credits-ledger',
    Type.Object({ idempotencyKey: Key, userId: Uuid, amount: PositiveInt, reference: Type.String({ maxLength: 200 }), after: Type.Optional(After) }, { additionalProperties: false }),
    MONEY,
  ),
  'ledger.hold-placed': event(['generation'], Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt }, { additionalProperties: false })),
  'ledger.hold-rejected': event(
    ['generation'],
    Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt, shortfall: NonNegativeInt }, { additionalProperties: false }),
  ),
  'ledger.hold-expired': event(['generation'], Type.Object({ holdId: Uuid, userId: Uuid, amount: PositiveInt }, { additionalProperties: false })),
  'ledger.low-balance': event(['notification'], Type.Object({ userId: Uuid, available: NonNegativeInt, threshold: NonNegativeInt }, { additionalProperties: false })),
  /**
   * A purchase grant the ledger turned down because its person was purged (nobody to credit). No
   * user id: it is about an order. Billing refunds that order.
   */
  'ledger.grant-refused': event(['billing'], Type.Object({ idempotencyKey: Key, reference: Type.String({ maxLength: 200 }) }, { additionalProperties: false }), MONEY),
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
    MONEY,
  ),
};

/**
 * What the `ledger.reserve` handler returns (the generation API waits on it with
 * bus.waitForResult). `LEDGER_HOLD_CLOSED`: the hold id was already released or captured before
 * this reserve arrived (reordered delivery), so nothing is reserved and nothing will be.
 */
export const LedgerReserveResult = Type.Union([
  Type.Object({ status: Type.Literal('placed') }),
  Type.Object({ status: Type.Literal('rejected'), code: Type.Literal('LEDGER_INSUFFICIENT_CREDITS'), shortfall: PositiveInt }),
  Type.Object({ status: Type.Literal('rejected'), code: Type.Literal('LEDGER_HOLD_CLOSED'), shortfall: Type.Literal(0) }),
]);
export type LedgerReserveResult = Static<typeof LedgerReserveResult>;

/** What `ledger.capture` / `ledger.release` return; a hold resolves once, later commands are no-ops. */
export const LedgerHoldOutcome = Type.Union([
  Type.Object({ status: Type.Literal('captured'), captured: NonNegativeInt, returned: NonNegativeInt }),
  Type.Object({ status: Type.Literal('released'), returned: NonNegativeInt }),
  Type.Object({ status: Type.Literal('expired'), returned: NonNegativeInt }),
  Type.Object({ status: Type.Literal('noop'), hold: Type.String() }),
]);
export type LedgerHoldOutcome = Static<typeof LedgerHoldOutcome>;

/** What `ledger.grant` / `ledger.clawback` / `ledger.restore` return (same as the `ledger.posted` event). */
export const LedgerPostingResult = Type.Object({ amount: NonNegativeInt, debt: NonNegativeInt });
export type LedgerPostingResult = Static<typeof LedgerPostingResult>;
