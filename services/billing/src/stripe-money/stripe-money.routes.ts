import { Readable } from 'node:stream';
import { Type } from '@sinclair/typebox';
import { ref, StringEnum } from '@imlab/contracts';
import { csvStream, DEFAULT_TIME_ZONE, errors, operation, PeriodQuery, requireRole, resolvePeriod, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Currency } from '../schemas.js';
import { importPeriod, type ImportDeps } from './stripe-money.import.js';
import * as report from './stripe-money.service.js';
import { closeMonth, tieOutReport } from './stripe-money.close.js';

const Nullable = <T extends Parameters<typeof Type.Union>[0][number]>(t: T) => Type.Union([t, Type.Null()]);

const Difference = Type.Object(
  {
    kind: StringEnum(['fee', 'timing', 'unmatched', 'amount']),
    amount: Type.Integer({ description: 'Minor units of the line\'s currency this item puts between our sales and the payout.' }),
    explanation: Type.String(),
  },
  { $id: 'StripeDifference' },
);

const BalanceTransaction = Type.Object(
  {
    transactionId: Type.String(),
    type: Type.String(),
    reportingCategory: Nullable(Type.String()),
    amount: Type.Integer(),
    fee: Type.Integer(),
    net: Type.Integer(),
    currency: Currency,
    createdAt: Type.String({ format: 'date-time' }),
    bookedAt: Type.String({ format: 'date-time', description: 'When the books count it: `createdAt`, or the start of the next open period when it was imported after its month was closed.' }),
    status: Nullable(Type.String()),
    sourceId: Nullable(Type.String({ description: 'The charge, refund or dispute id.' })),
    paymentIntentId: Nullable(Type.String()),
    orderId: Nullable(Type.String({ format: 'uuid' })),
    payoutId: Nullable(Type.String()),
    differences: Type.Array(ref(Difference)),
  },
  { $id: 'StripeBalanceTransaction' },
);

const BalanceTransactionPage = Type.Object(
  { items: Type.Array(ref(BalanceTransaction)), nextCursor: Nullable(Type.String()) },
  { $id: 'StripeBalanceTransactionPage', description: 'The period\'s balance transactions (created in it, or paid out by one of its payouts), each matched to an order, in pages.' },
);

const Payout = Type.Object(
  {
    payoutId: Type.String(),
    amount: Type.Integer(),
    currency: Currency,
    status: Type.String(),
    createdAt: Type.String({ format: 'date-time' }),
    arrivalDate: Nullable(Type.String({ format: 'date-time' })),
    transactions: Type.Integer(),
    matchedToOrders: Type.Integer(),
    gross: Type.Integer(),
    fees: Type.Integer(),
    net: Type.Integer(),
    difference: Type.Integer({ description: 'amount − the net of its transactions; 0 when they explain it.' }),
  },
  { $id: 'StripePayout' },
);

const PayoutPage = Type.Object({ items: Type.Array(ref(Payout)), nextCursor: Nullable(Type.String()) }, { $id: 'StripePayoutPage' });

const TieOut = Type.Object(
  {
    from: Type.String({ format: 'date-time' }),
    to: Type.String({ format: 'date-time' }),
    tz: Type.String(),
    currencies: Type.Array(
      Type.Object({
        currency: Currency,
        ordersPaid: Type.Integer(),
        sales: Type.Integer(),
        tax: Type.Integer(),
        paidAtStripe: Type.Integer(),
        charges: Type.Integer(),
        refunds: Type.Integer(),
        disputes: Type.Integer(),
        netSales: Type.Integer(),
        fees: Type.Integer(),
        unmatched: Type.Integer(),
        net: Type.Integer(),
        notYetPaidOut: Type.Integer(),
        paidOutFromEarlier: Type.Integer(),
        payouts: Type.Integer(),
        unexplained: Type.Integer(),
        tiesOut: Type.Boolean(),
      }),
    ),
    differences: Type.Object({ transactions: Type.Integer(), fee: Type.Integer(), timing: Type.Integer(), unmatched: Type.Integer(), amount: Type.Integer() }),
    ordersWithoutCharge: Type.Array(Type.Object({ orderId: Type.String(), currency: Currency, amount: Type.Integer(), paidAt: Type.String({ format: 'date-time' }) })),
    closed: Nullable(Type.Object({ closedAt: Type.String({ format: 'date-time' }) }, { description: 'Set for a closed month: these figures were frozen then.' })),
  },
  {
    $id: 'StripeTieOut',
    description: 'Per currency: payouts = net sales − fees ± timing ± unmatched, with our paid orders (sales, tax) beside Stripe\'s charges.',
  },
);

const ImportResult = Type.Object(
  { from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }), balanceTransactions: Type.Integer(), payouts: Type.Integer(), chargesLinked: Type.Integer() },
  { $id: 'StripeImportResult' },
);

/** The Stripe-money components, registered with the app. */
export const stripeMoneySchemas = [Difference, BalanceTransaction, BalanceTransactionPage, Payout, PayoutPage, TieOut, ImportResult];

const PagedPeriodQuery = Type.Object(
  {
    ...PeriodQuery.properties,
    cursor: Type.Optional(Type.String({ maxLength: 255 })),
    limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 500, default: 100 })),
  },
  { additionalProperties: false },
);
const CsvPeriodQuery = Type.Object({ ...PeriodQuery.properties }, { additionalProperties: false });

const csvResponse = (file: string, what: string) => ({
  description: `${what}, one per line after a header line (RFC 4180, amounts in minor units with their currency)`,
  headers: { 'content-disposition': { type: 'string', description: `attachment; filename="${file}"` } },
  content: { 'text/csv': { schema: { type: 'string' } } },
});

const TRANSACTION_COLUMNS = ['transaction_id', 'created_at', 'booked_at', 'type', 'reporting_category', 'currency', 'amount', 'fee', 'net', 'status', 'source_id', 'payment_intent_id', 'order_id', 'payout_id', 'differences'] as const;
const PAYOUT_COLUMNS = ['payout_id', 'created_at', 'arrival_date', 'status', 'currency', 'amount', 'transactions', 'matched_to_orders', 'gross', 'fees', 'net', 'difference'] as const;

/** Finance's view of Stripe's money: import a period, then the tie-out, the transactions and the payouts. */
export function registerStripeMoneyRoutes(app: App, deps: ImportDeps & { db: Kysely<DB> }): void {
  const preValidation = requireRole('finance', 'admin');
  const access = { roles: ['finance', 'admin'] } as const;
  const denied = { 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] } as const;
  const periodErrors = { 400: ['VALIDATION_FAILED', 'FINANCE_PERIOD_INVALID', 'FINANCE_TIMEZONE_INVALID'] } as const;
  const pagedErrors = { 400: ['VALIDATION_FAILED', 'FINANCE_PERIOD_INVALID', 'FINANCE_TIMEZONE_INVALID', 'INVALID_CURSOR'] } as const;

  app.post(
    '/v1/admin/billing/stripe-imports',
    {
      preValidation,
      schema: {
        ...operation('importStripeMoney', {
          tag: 'finance',
          access,
          summary: 'Import Stripe\'s balance transactions and payouts for a period',
          description:
            'Lists Stripe\'s balance transactions and payouts created in the period (all pages) and each payout\'s transactions, and stores their ids, amounts, fees, currencies, dates and types. Importing again changes nothing but statuses and payout links.',
        }),
        body: CsvPeriodQuery,
        response: { 200: ref(ImportResult, { description: 'What was imported' }), ...errors(denied, periodErrors, { 502: ['FINANCE_STRIPE_UNAVAILABLE'] }) },
      },
    },
    async (request) => {
      const period = resolvePeriod(request.body, { maxDays: 93 });
      return { from: period.from.toISOString(), to: period.to.toISOString(), ...(await importPeriod(deps, period.from, period.to)) };
    },
  );

  app.get(
    '/v1/admin/billing/stripe-reconciliation',
    {
      preValidation,
      schema: {
        ...operation('getStripeTieOut', {
          tag: 'finance',
          access,
          summary: 'Stripe\'s payouts against our sales for a period',
          description: 'Per currency: our paid orders, Stripe\'s charges, refunds, disputes and fees for them, what no order matches, the timing items and the period\'s payouts.',
        }),
        querystring: CsvPeriodQuery,
        response: { 200: ref(TieOut, { description: 'The tie-out' }), ...errors(denied, periodErrors) },
      },
    },
    async (request) => tieOutReport(deps.db, request.query),
  );

  app.post(
    '/v1/admin/billing/periods/close',
    {
      preValidation,
      schema: {
        ...operation('closeBillingPeriod', {
          tag: 'finance',
          access,
          summary: 'Close a month on billing\'s side',
          description: 'Freezes the Stripe tie-out of a month that is over (in `tz`); Stripe money imported later for it counts in the next open period.',
        }),
        body: Type.Object({ month: Type.String({ pattern: '^[0-9]{4}-(0[1-9]|1[0-2])$' }), tz: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
        response: { 200: ref(TieOut, { description: 'The frozen tie-out' }), ...errors(denied, periodErrors, { 409: ['FINANCE_PERIOD_CLOSED', 'FINANCE_PERIOD_NOT_OVER'] }) },
      },
    },
    async (request) => closeMonth(deps.db, request.body.month, request.body.tz ?? DEFAULT_TIME_ZONE),
  );

  app.get(
    '/v1/admin/billing/balance-transactions',
    {
      preValidation,
      schema: {
        ...operation('listStripeBalanceTransactions', {
          tag: 'finance',
          access,
          summary: 'The period\'s Stripe balance transactions, matched to orders',
          description: 'Each with its order, its payout and every difference (fee, timing, unmatched, amount); `cursor` is the `nextCursor` of the page before.',
        }),
        querystring: PagedPeriodQuery,
        response: { 200: ref(BalanceTransactionPage, { description: 'A page of transactions' }), ...errors(denied, pagedErrors) },
      },
    },
    async (request) => report.transactionsPage(deps.db, resolvePeriod(request.query), request.query.cursor, request.query.limit ?? 100),
  );

  app.get(
    '/v1/admin/billing/balance-transactions.csv',
    {
      preValidation,
      schema: {
        ...operation('exportStripeBalanceTransactions', { tag: 'finance', access, summary: 'The period\'s Stripe balance transactions as CSV', description: 'As the JSON list, streamed; `differences` is `kind:amount` items separated by `;`.' }),
        querystring: CsvPeriodQuery,
        response: { 200: csvResponse('stripe-balance-transactions.csv', 'The transactions'), ...errors(denied, periodErrors) },
      },
    },
    async (request, reply) => {
      const period = resolvePeriod(request.query);
      const rows = async function* () {
        for await (const page of report.allTransactions(deps.db, period)) {
          yield page.map((t) => ({
            transaction_id: t.transactionId,
            created_at: t.createdAt,
            booked_at: t.bookedAt,
            type: t.type,
            reporting_category: t.reportingCategory,
            currency: t.currency,
            amount: t.amount,
            fee: t.fee,
            net: t.net,
            status: t.status,
            source_id: t.sourceId,
            payment_intent_id: t.paymentIntentId,
            order_id: t.orderId,
            payout_id: t.payoutId,
            differences: t.differences.map((d) => `${d.kind}:${d.amount}`).join(';'),
          }));
        }
      };
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="stripe-balance-transactions.csv"');
      return reply.send(Readable.from(csvStream(TRANSACTION_COLUMNS, rows())));
    },
  );

  app.get(
    '/v1/admin/billing/payouts',
    {
      preValidation,
      schema: {
        ...operation('listStripePayouts', {
          tag: 'finance',
          access,
          summary: 'The period\'s payouts with the transactions they settled',
          description: 'Payouts created in the period, each with the sums of its balance transactions and how many match an order; their lines are in the balance transactions (`payoutId`).',
        }),
        querystring: PagedPeriodQuery,
        response: { 200: ref(PayoutPage, { description: 'A page of payouts' }), ...errors(denied, pagedErrors) },
      },
    },
    async (request) => report.payoutsPage(deps.db, resolvePeriod(request.query), request.query.cursor, request.query.limit ?? 100),
  );

  app.get(
    '/v1/admin/billing/payouts.csv',
    {
      preValidation,
      schema: {
        ...operation('exportStripePayouts', { tag: 'finance', access, summary: 'The period\'s payouts as CSV', description: 'As the JSON list, streamed.' }),
        querystring: CsvPeriodQuery,
        response: { 200: csvResponse('stripe-payouts.csv', 'The payouts'), ...errors(denied, periodErrors) },
      },
    },
    async (request, reply) => {
      const period = resolvePeriod(request.query);
      const rows = async function* () {
        for await (const page of report.allPayouts(deps.db, period)) {
          yield page.map((p) => ({
            payout_id: p.payoutId,
            created_at: p.createdAt,
            arrival_date: p.arrivalDate,
            status: p.status,
            currency: p.currency,
            amount: p.amount,
            transactions: p.transactions,
            matched_to_orders: p.matchedToOrders,
            gross: p.gross,
            fees: p.fees,
            net: p.net,
            difference: p.difference,
          }));
        }
      };
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="stripe-payouts.csv"');
      return reply.send(Readable.from(csvStream(PAYOUT_COLUMNS, rows())));
    },
  );
}
