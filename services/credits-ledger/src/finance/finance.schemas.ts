import { Type } from '@sinclair/typebox';
import { Problem } from '@imlab/contracts';

export const AtQuery = Type.Object({ at: Type.Optional(Type.String({ format: 'date-time' })) }, { additionalProperties: false });
export const AccountParams = Type.Object({ id: Type.String({ format: 'uuid' }) }, { additionalProperties: false });

export const TrialBalance = Type.Object(
  {
    asOf: Type.String({ format: 'date-time' }),
    lines: Type.Array(
      Type.Object({
        accountId: Type.Union([Type.String(), Type.Null()], { description: 'system accounts only; user accounts are summed per type' }),
        type: Type.String(),
        scope: Type.Union([Type.Literal('system'), Type.Literal('users')]),
        accounts: Type.Integer(),
        debits: Type.Integer(),
        credits: Type.Integer(),
        balance: Type.Integer({ description: 'credits − debits' }),
      }),
    ),
    totals: Type.Object({ debits: Type.Integer(), credits: Type.Integer(), balance: Type.Integer() }),
    storedBalancesMatch: Type.Union([Type.Boolean(), Type.Null()]),
  },
  { additionalProperties: false },
);

const Account = Type.Object({
  id: Type.String(),
  type: Type.String(),
  scope: Type.Union([Type.Literal('system'), Type.Literal('user')]),
  anonymized: Type.Boolean(),
});

export const BalanceAt = Type.Object({ account: Account, at: Type.String({ format: 'date-time' }), balance: Type.Integer() }, { additionalProperties: false });

export const StatementQuery = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    cursor: Type.Optional(Type.String()), // any length: one not given out is INVALID_CURSOR
    limit: Type.Integer({ minimum: 1, maximum: 1000, default: 200 }),
  },
  { additionalProperties: false },
);

export const Statement = Type.Object(
  {
    account: Account,
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    openingBalance: Type.Integer(),
    closingBalance: Type.Integer(),
    // `items`, as on every paged list ({ items, nextCursor }).
    items: Type.Array(
      Type.Object({
        transferId: Type.Integer(),
        createdAt: Type.String({ format: 'date-time' }),
        kind: Type.String(),
        side: Type.Union([Type.Literal('debit'), Type.Literal('credit')]),
        amount: Type.Integer({ description: 'signed effect on this account' }),
        counterAccountId: Type.String(),
        reference: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  },
  { additionalProperties: false },
);

export const ExportQuery = Type.Object(
  { from: Type.Optional(Type.String({ format: 'date-time' })), to: Type.Optional(Type.String({ format: 'date-time' })) },
  { additionalProperties: false },
);

export const VerifyReport = Type.Object(
  {
    ok: Type.Boolean(),
    checkpoints: Type.Integer(),
    sealedTransfers: Type.Integer(),
    unsealedTransfers: Type.Integer(),
    firstMismatch: Type.Union([
      Type.Null(),
      Type.Object({
        checkpointId: Type.Integer(),
        reason: Type.Union([Type.Literal('seal'), Type.Literal('link'), Type.Literal('count'), Type.Literal('hash')]),
        firstTransferId: Type.Union([Type.Integer(), Type.Null()]),
        lastTransferId: Type.Integer(),
        expected: Type.String(),
        actual: Type.String(),
      }),
    ]),
    verifiedAt: Type.String({ format: 'date-time' }),
  },
  { additionalProperties: false },
);

export const errors = { 400: Problem, 401: Problem, 403: Problem, 404: Problem };
