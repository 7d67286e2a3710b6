import { Type } from '@sinclair/typebox';
import { ref, StringEnum } from '@imlab/contracts';
import { Readable } from 'node:stream';
import { csvStream, errors, invalidCursor, operation, requireRole, type App } from '@imlab/http';
import type { Kysely } from '@imlab/db';
import type { DB } from '../db.js';
import { Currency } from '../schemas.js';
import { reconcile, type ReconOrder } from './reconciliation.service.js';

const Credits = Type.Object({ granted: Type.Integer(), clawedBack: Type.Integer(), restored: Type.Integer() });

const Reconciliation = Type.Object(
  {
    from: Type.String(),
    to: Type.String(),
    orders: Type.Array(
      Type.Object({
        orderId: Type.String(),
        status: Type.String(),
        currency: Currency,
        amount: Type.Integer(),
        refundedAmount: Type.Integer(),
        disputedAmount: Type.Integer(),
        paidAt: Type.String(),
        tax: Type.Union([Type.Integer(), Type.Null()], { description: 'Tax Stripe Tax computed for the order (minor units); null without Stripe Tax.' }),
        taxBehavior: Type.Union([Type.Literal('inclusive'), Type.Literal('exclusive'), Type.Null()]),
        expected: Credits,
        ledger: Type.Object({ ...Credits.properties, debt: Type.Integer() }),
        matches: Type.Boolean(),
      }),
    ),
    nextCursor: Type.Union([Type.String(), Type.Null()], { description: 'More orders follow: ask again with `cursor` (mismatches and totals always cover the whole period).' }),
    mismatches: Type.Array(
      Type.Object({
        orderId: Type.String(),
        reasons: Type.Array(Type.String(), { description: 'Each issue as an English sentence (as in the CSV).' }),
        issues: Type.Array(
          Type.Object(
            {
              kind: StringEnum(['orphan-refund-pending', 'paid-differs', 'grant-missing', 'granted', 'clawed-back', 'restored', 'net-clawback'] as const, {
                description:
                  '`orphan-refund-pending`: paid after its owner\'s purge, Stripe has not confirmed the automatic refund (actual refunded of expected, minor units of `currency`); `paid-differs`: Stripe reported `actual` `currency` paid for an order due `expected` `expectedCurrency`; `grant-missing`: the ledger posted no grant; `granted`, `clawed-back`, `restored`: credits the ledger reported (`actual`) against those expected; `net-clawback`: credits billing clawed back net (`actual`) against what its refunds and disputes call for.',
              }),
              actual: Type.Optional(Type.Integer()),
              expected: Type.Optional(Type.Integer()),
              currency: Type.Optional(Type.Union([Type.String(), Type.Null()])),
              expectedCurrency: Type.Optional(Type.String()),
            },
            { additionalProperties: false },
          ),
          { description: 'The same issues as data, for a reader in another language.' },
        ),
      }),
    ),
    totals: Type.Array(
      Type.Object({
        currency: Currency,
        orders: Type.Integer(),
        gross: Type.Integer(),
        refunded: Type.Integer(),
        disputesLost: Type.Integer(),
        net: Type.Integer(),
        tax: Type.Integer({ description: 'Tax collected on the orders, in minor units (not revenue).' }),
        creditsGranted: Type.Integer(),
        creditsClawedBack: Type.Integer(),
        creditsRestored: Type.Integer(),
      }),
    ),
  },
  { $id: 'Reconciliation', description: 'Each order paid in the period with the credits it should have moved and those the ledger moved; the mismatches; totals per currency.' },
);
/** The reconciliation route's components, registered with the app. */
export const reconciliationSchemas = [Reconciliation];

const RECON_COLUMNS = [
  'order_id', 'paid_at', 'status', 'currency', 'amount', 'tax', 'tax_behavior', 'refunded_amount', 'disputed_amount',
  'expected_granted', 'expected_clawed_back', 'expected_restored', 'ledger_granted', 'ledger_clawed_back', 'ledger_restored', 'ledger_debt', 'matches', 'mismatch_reasons',
] as const;

/** GET /v1/admin/billing/reconciliation (paged) and its CSV: finance audits orders against the ledger. */
export function registerReconciliationRoutes(app: App, db: Kysely<DB>): void {
  app.get(
    '/v1/admin/billing/reconciliation',
    {
      preValidation: requireRole('finance', 'admin'),
      schema: {
        ...operation('getBillingReconciliation', {
          tag: 'finance',
          access: { roles: ['finance', 'admin'] },
          summary: 'Orders against the ledger for a period',
          description: "Orders paid from `from` to `to` (at most 366 days) against the ledger's grants, clawbacks and restores.",
        }),
        querystring: Type.Object(
          {
            from: Type.String({ format: 'date-time' }),
            to: Type.String({ format: 'date-time' }),
            cursor: Type.Optional(Type.String({ maxLength: 64, description: 'The last order id of the page before.' })),
            limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000, default: 500 })),
          },
          { additionalProperties: false },
        ),
        response: {
          200: ref(Reconciliation, { description: 'The reconciliation' }),
          ...errors({ 400: ['VALIDATION_FAILED', 'BILLING_RECONCILIATION_PERIOD_INVALID', 'INVALID_CURSOR'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] }),
        },
      },
    },
    async (request) => {
      const q = request.query;
      const all = await reconcile(db, q.from, q.to);
      const start = q.cursor ? all.orders.findIndex((o) => o.orderId === q.cursor) + 1 : 0;
      if (q.cursor && start === 0) throw invalidCursor();
      const limit = q.limit ?? 500;
      const orders = all.orders.slice(start, start + limit);
      return { ...all, orders, nextCursor: start + limit < all.orders.length ? orders[orders.length - 1]!.orderId : null };
    },
  );

  app.get(
    '/v1/admin/billing/reconciliation.csv',
    {
      preValidation: requireRole('finance', 'admin'),
      schema: {
        ...operation('exportBillingReconciliation', {
          tag: 'finance',
          access: { roles: ['finance', 'admin'] },
          summary: 'Orders against the ledger for a period, as CSV',
          description: 'One line per order paid in the period: amounts in minor units with the currency, the credits expected and posted, whether it matches and why not.',
        }),
        querystring: Type.Object({ from: Type.String({ format: 'date-time' }), to: Type.String({ format: 'date-time' }) }, { additionalProperties: false }),
        response: {
          200: {
            description: 'The orders, one per line after a header line (RFC 4180)',
            headers: { 'content-disposition': { type: 'string', description: 'attachment; filename="billing-reconciliation.csv"' } },
            content: { 'text/csv': { schema: { type: 'string' } } },
          },
          ...errors({ 400: ['VALIDATION_FAILED', 'BILLING_RECONCILIATION_PERIOD_INVALID'], 401: ['UNAUTHENTICATED'], 403: ['FORBIDDEN'] }),
        },
      },
    },
    async (request, reply) => {
      const r = await reconcile(db, request.query.from, request.query.to);
      const reasons = new Map(r.mismatches.map((m) => [m.orderId, m.reasons.join('; ')]));
      const rows = (async function* () {
        for (let i = 0; i < r.orders.length; i += 1000) yield r.orders.slice(i, i + 1000).map((o: ReconOrder) => ({
          order_id: o.orderId,
          paid_at: o.paidAt,
          status: o.status,
          currency: o.currency,
          amount: o.amount,
          tax: o.tax,
          tax_behavior: o.taxBehavior,
          refunded_amount: o.refundedAmount,
          disputed_amount: o.disputedAmount,
          expected_granted: o.expected.granted,
          expected_clawed_back: o.expected.clawedBack,
          expected_restored: o.expected.restored,
          ledger_granted: o.ledger.granted,
          ledger_clawed_back: o.ledger.clawedBack,
          ledger_restored: o.ledger.restored,
          ledger_debt: o.ledger.debt,
          matches: o.matches,
          mismatch_reasons: reasons.get(o.orderId) ?? null,
        }));
      })();
      reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="billing-reconciliation.csv"');
      return reply.send(Readable.from(csvStream(RECON_COLUMNS, rows)));
    },
  );
}
