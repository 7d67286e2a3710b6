import { Type } from '@sinclair/typebox';
import { ref, StringEnum } from '@imlab/contracts';

export const AtQuery = Type.Object(
  { at: Type.Optional(Type.String({ format: 'date-time', description: 'The instant to report on (inclusive); now when absent.' })) },
  { additionalProperties: false },
);
export const AccountParams = Type.Object({ id: Type.String({ format: 'uuid', description: 'The ledger account id.' }) }, { additionalProperties: false });

export const TrialBalance = Type.Object(
  {
    asOf: Type.String({ format: 'date-time' }),
    lines: Type.Array(
      Type.Object({
        accountId: Type.Union([Type.String(), Type.Null()], { description: 'system accounts only; user accounts are summed per type' }),
        type: Type.String(),
        scope: StringEnum(['system', 'users']),
        accounts: Type.Integer(),
        debits: Type.Integer(),
        credits: Type.Integer(),
        balance: Type.Integer({ description: 'credits − debits' }),
      }),
    ),
    totals: Type.Object({ debits: Type.Integer(), credits: Type.Integer(), balance: Type.Integer() }),
    storedBalancesMatch: Type.Union([Type.Boolean(), Type.Null()], { description: 'Whether the stored user balances equal the transfers; null for a past instant.' }),
  },
  { $id: 'TrialBalance', additionalProperties: false, description: 'Every account type\'s debits, credits and balance at an instant; the totals balance to zero.' },
);

const Account = Type.Object(
  {
    id: Type.String(),
    type: Type.String(),
    scope: StringEnum(['system', 'user']),
    anonymized: Type.Boolean({ description: 'The owner was purged: the account is kept for the books, without a person.' }),
  },
  { $id: 'LedgerAccount' },
);

export const BalanceAt = Type.Object(
  { account: ref(Account), at: Type.String({ format: 'date-time' }), balance: Type.Integer() },
  { $id: 'LedgerAccountBalance', additionalProperties: false },
);

export const StatementQuery = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    cursor: Type.Optional(Type.String()), // any length: one not given out is INVALID_CURSOR
    // Optional: the default fills it in (a client need not send it, and the document says so).
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 200 })),
  },
  { additionalProperties: false },
);

export const Statement = Type.Object(
  {
    account: ref(Account),
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
        side: StringEnum(['debit', 'credit']),
        amount: Type.Integer({ description: 'signed effect on this account' }),
        counterAccountId: Type.String(),
        reference: Type.Union([Type.String(), Type.Null()]),
      }),
    ),
    nextCursor: Type.Union([Type.String(), Type.Null()]),
  },
  { $id: 'LedgerStatement', additionalProperties: false, description: 'One account\'s postings in a period, with its balance before and after; paged by `cursor`.' },
);

export const PeriodBounds = Type.Object({ from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }, { additionalProperties: false });

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
        reason: StringEnum(['seal', 'link', 'count', 'hash']),
        firstTransferId: Type.Union([Type.Integer(), Type.Null()]),
        lastTransferId: Type.Integer(),
        expected: Type.String(),
        actual: Type.String(),
      }),
    ]),
    verifiedAt: Type.String({ format: 'date-time' }),
  },
  { $id: 'LedgerVerification', additionalProperties: false, description: 'The tamper-evident checkpoints checked against the transfers they seal.' },
);

/** Finance's components, registered with the app. */
export const financeSchemas = [TrialBalance, Account, BalanceAt, Statement, VerifyReport];
